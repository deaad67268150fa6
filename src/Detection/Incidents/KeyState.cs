using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>What the detector knows of one key: its baseline, its last judgement and its incident, if any.</summary>
internal sealed class KeyState(TrafficKey key, KeyDescription description, long firstSecond)
{
    public TrafficKey Key { get; } = key;

    public KeyDescription Description { get; } = description;

    public DetectionOverride? Override { get; init; }

    public long FirstSecond { get; set; } = firstSecond;

    public long LastSecond { get; set; } = firstSecond;

    public bool Learned { get; set; }

    public KeyBaseline Baseline;

    public MetricValues Values;

    public MetricValues Thresholds;

    public double Ratio { get; set; }

    public int BreachingMetric { get; set; } = -1;

    public bool Breaching { get; set; }

    public int Consecutive { get; set; }

    public Incident? Incident { get; set; }

    /// <summary>Where the key is in the open list, while its incident is open.</summary>
    public int OpenIndex { get; set; } = -1;

    /// <summary>The open incident's record as last handed to observers.</summary>
    public IncidentRecord? Record { get; set; }

    /// <summary>The incident that closed last, which may reopen within <see cref="DetectionOptions.ReopenSeconds"/>.</summary>
    public Incident? Closed { get; set; }

    public long ClosedSecond { get; set; }

    /// <summary>Whether the key had a sample in <paramref name="second"/>.</summary>
    public bool SeenIn(long second) => LastSecond == second;
}
