using FlowCollector.Detection.Incidents;

namespace FlowCollector.Benchmarks.Detection;

/// <summary>A clock that stands still: the benchmarks' seconds come with their samples.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>An observer that only counts the seconds it is handed, as a store's or mitigation's queue would take them.</summary>
internal sealed class CountingObserver : IIncidentObserver
{
    public long Updates { get; private set; }

    public void OnIncident(in IncidentEvent change)
    {
        if (change.HasSecond)
        {
            Updates++;
        }
    }
}
