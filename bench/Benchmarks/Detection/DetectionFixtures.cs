using FlowCollector.Detection.Incidents;

namespace FlowCollector.Benchmarks.Detection;

/// <summary>A clock that stands still: the benchmarks' seconds come with their samples.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>An observer that only counts the updates it is handed, as a store's or mitigation's queue would take them.</summary>
internal sealed class CountingObserver : IIncidentObserver
{
    public long Updates { get; private set; }

    public void Opened(IncidentRecord incident)
    {
    }

    public void Updated(IncidentRecord incident, in IncidentSecond second) => Updates++;

    public void Closed(IncidentRecord incident)
    {
    }
}
