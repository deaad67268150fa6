using FlowCollector.Collector.Configuration;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
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
    }

    public CollectorOptions Options { get; }

    public DateTimeOffset Started { get; }

    public string Node { get; }

    public string DataDirectory { get; }

    public string DatabasePath => Options.Storage.DatabasePath(DataDirectory);

    public FlowDecoder Decoder { get; }

    public RateAggregator Aggregator { get; }

    public CollectorMetrics Metrics { get; }

    /// <summary>The rings of recent frames the capture sources keep (Capture:Ring), read by the incident pcaps.</summary>
    public FrameRings Rings { get; } = new();

    /// <summary>Packet samples of breaching interfaces (router mode), waiting for the detection thread.</summary>
    public SampleInbox Samples { get; } = new();

    /// <summary>Where the detector publishes incident changes; every consumer of incidents subscribes to it.</summary>
    public IncidentFeed Incidents { get; } = new();
}
