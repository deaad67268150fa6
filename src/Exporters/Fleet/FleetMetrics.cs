using Prometheus;

namespace FlowCollector.Exporters.Fleet;

/// <summary>
/// The fleet's series, in the collector's registry: a node's publishing (what went, what was dropped, what waits),
/// and the fleet service's consuming (lag, nodes, summaries by outcome, fleet incidents). Each side creates only its
/// own, once it runs: a single node without NATS carries none of them.
/// </summary>
public sealed class FleetMetrics
{
    private readonly IMetricFactory _factory;
    private Publishing? _publishing;
    private Consuming? _consuming;

    public FleetMetrics(CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);
    }

    /// <summary>A node's publisher, read at scrape time.</summary>
    public void RecordPublishing(FleetPublisher publisher)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        var series = _publishing ??= new Publishing(_factory);
        foreach (var ((kind, outcome), value) in publisher.Counters)
        {
            series.Messages.WithLabels(kind, outcome).IncTo(value);
        }

        series.Buffered.Set(publisher.Buffered);
        series.Cut.IncTo(publisher.CutKeys);
        series.Connected.Set(publisher.Connected ? 1 : 0);
    }

    /// <summary>The fleet service's consumer, read at scrape time.</summary>
    public void RecordConsuming(FleetConsumerCounters counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var series = _consuming ??= new Consuming(_factory);
        foreach (var (outcome, value) in counters.Summaries)
        {
            series.Entries.WithLabels(outcome).IncTo(value);
        }

        foreach (var (outcome, value) in counters.Events)
        {
            series.Events.WithLabels(outcome).IncTo(value);
        }

        series.Pending.WithLabels("events").Set(counters.PendingEvents);
        series.Pending.WithLabels("summaries").Set(counters.PendingSummaries);
        series.Lag.Set(counters.LagSeconds);
        series.Nodes.Set(counters.Nodes);
        series.NodesReporting.Set(counters.NodesReporting);
        series.Connected.Set(counters.Connected ? 1 : 0);
        series.Incidents.IncTo(counters.FleetIncidents);
    }

    private sealed class Publishing(IMetricFactory factory)
    {
        public Counter Messages { get; } = factory.CreateCounter("flowcollector_fleet_published_messages_total", "Messages to the fleet by kind (event, summary) and outcome: published, duplicate (JetStream had it already), dropped_full (the buffer was full), dropped_stale (a summary too old once NATS was back).", ["kind", "outcome"]);

        public Gauge Buffered { get; } = factory.CreateGauge("flowcollector_fleet_buffered_messages", "Messages waiting to be published to NATS.");

        public Counter Cut { get; } = factory.CreateCounter("flowcollector_fleet_summary_keys_cut_total", "Destinations and prefixes left out of the per-second summaries by Fleet:MaxSummaryKeys (the lightest go).");

        public Gauge Connected { get; } = factory.CreateGauge("flowcollector_fleet_connected", "1 while NATS acknowledges what this node publishes.");
    }

    private sealed class Consuming(IMetricFactory factory)
    {
        public Counter Entries { get; } = factory.CreateCounter("flowcollector_fleet_summary_entries_total", "Summary entries from nodes by outcome: added, late (past Fleet:LateSeconds), future, unmonitored, overflow, malformed.", ["outcome"]);

        public Counter Events { get; } = factory.CreateCounter("flowcollector_fleet_events_total", "Incident events from nodes by outcome: stored, duplicate (stored before), malformed, failed (PostgreSQL refused; redelivered).", ["outcome"]);

        public Gauge Pending { get; } = factory.CreateGauge("flowcollector_fleet_consumer_pending_messages", "Messages in a stream the fleet's durable consumer has not yet received.", ["stream"]);

        public Gauge Lag { get; } = factory.CreateGauge("flowcollector_fleet_summary_lag_seconds", "How far behind the clock the last summary consumed was: its second's end to now.");

        public Gauge Nodes { get; } = factory.CreateGauge("flowcollector_fleet_nodes", "Nodes the fleet has heard from since it started.");

        public Gauge NodesReporting { get; } = factory.CreateGauge("flowcollector_fleet_nodes_reporting", "Nodes whose summary arrived within the last 10 seconds.");

        public Gauge Connected { get; } = factory.CreateGauge("flowcollector_fleet_consumer_connected", "1 while the fleet service is connected to NATS.");

        public Counter Incidents { get; } = factory.CreateCounter("flowcollector_fleet_incidents_total", "Fleet incidents opened (attacks on the sums that no node's own incident explained).");
    }
}

/// <summary>What the fleet service's consumer counted, for its metrics.</summary>
public sealed record FleetConsumerCounters(
    IReadOnlyDictionary<string, long> Summaries,
    IReadOnlyDictionary<string, long> Events,
    long PendingEvents,
    long PendingSummaries,
    double LagSeconds,
    int Nodes,
    int NodesReporting,
    bool Connected,
    long FleetIncidents);
