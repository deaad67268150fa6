using FlowCollector.Collector.Configuration;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Exporters.Fleet;
using FlowCollector.Exporters.Metrics;

namespace FlowCollector.Collector.Pipeline;

/// <summary>
/// What every part of the running collector shares: the node's name and data directory, the decoder the sources
/// feed, the aggregator that turns records into seconds, the metrics, and the feed incidents are published on.
/// </summary>
internal sealed class CollectorCore
{
    public CollectorCore(CollectorOptions options, string dataDirectory, TimeProvider time)
    {
        Options = options;
        Started = time.GetUtcNow();
        DataDirectory = dataDirectory;
        Node = options.Node.EffectiveName();
        Decoder = new FlowDecoder(options.Decoder);
        var names = new InterfaceNames();
        Aggregator = new RateAggregator(
            options.Aggregation,
            new MonitoredPrefixes(options.Monitor.Prefixes.Select(IpPrefix.Parse)),
            names,
            Started.ToUnixTimeSeconds(),
            InterfaceCapacities.Configured(options.Detection, names, options.Aggregation.MaxInterfaces, options.Aggregation));
        Metrics = new CollectorMetrics(Node, options.Metrics.MaxInterfaceSeries, options.Metrics.MaxExporterSeries, options.Aggregation.IdleSeconds);
        FleetMetrics = new FleetMetrics(Metrics.Registry);
        DetectorOutput = Incidents;
    }

    public CollectorOptions Options { get; }

    public DateTimeOffset Started { get; }

    public string Node { get; }

    public string DataDirectory { get; }

    public string DatabasePath => Options.Storage.DatabasePath(DataDirectory);

    public FlowDecoder Decoder { get; }

    public RateAggregator Aggregator { get; }

    public CollectorMetrics Metrics { get; }

    /// <summary>The fleet's series (publishing on a node, consuming in the fleet service), in the same registry.</summary>
    public FleetMetrics FleetMetrics { get; }

    /// <summary>The rings of recent frames the capture sources keep (Capture:Ring), read by the incident pcaps.</summary>
    public FrameRings Rings { get; } = new();

    /// <summary>Packet samples of breaching interfaces (router mode), waiting for the detection thread.</summary>
    public SampleInbox Samples { get; } = new();

    /// <summary>Where the detector publishes incident changes; every consumer of incidents subscribes to it.</summary>
    public IncidentFeed Incidents { get; } = new();

    /// <summary>
    /// What the detector publishes to: the feed itself, or (in the fleet service) a step that adds to each incident
    /// what only the fleet knows before the feed hears of it.
    /// </summary>
    public IIncidentObserver DetectorOutput { get; set; }
}
