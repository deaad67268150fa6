using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;
namespace FlowCollector.Detection.Incidents;

/// <summary>A source port's share of an incident's traffic, per second.</summary>
public sealed record PortRate(string Protocol, int Port, double Pps);

/// <summary>A source address's share of an incident's traffic, per second.</summary>
public sealed record SourceRate(string Address, double Pps);

/// <summary>
/// An incident as it stands: what the API serves, the store keeps and observers receive. Immutable; the detector
/// publishes a new one whenever the incident changes.
/// </summary>
public sealed record IncidentRecord
{
    public required long Id { get; init; }

    /// <summary>Stable text of the key, e.g. <c>destination/198.51.100.7</c>; a restart finds its incidents by it.</summary>
    public required string Key { get; init; }

    /// <summary><c>interface</c>, <c>destination</c>, <c>prefix</c> or <c>node</c>.</summary>
    public required KeyKind KeyKind { get; init; }

    public required string Node { get; init; }

    /// <summary>The evidence: netflow, ipfix, sflow, span, procnetdev; null for destinations and prefixes.</summary>
    public string? Source { get; init; }

    public string? Exporter { get; init; }

    public string? Interface { get; init; }

    public string? Direction { get; init; }

    /// <summary>The destination address, or the prefix for a prefix key.</summary>
    public string? Address { get; init; }

    public required AttackType AttackType { get; init; }

    /// <summary>For carpet bombing: what the spread traffic is (e.g. a UDP flood); null for every other type.</summary>
    public AttackType? Vector { get; init; }

    /// <summary>For a multi-vector attack: each vector (e.g. DNS amplification and a SYN flood), strongest first; empty otherwise.</summary>
    public IReadOnlyList<AttackType> Vectors { get; init; } = [];

    public required double Confidence { get; init; }

    public required Severity Severity { get; init; }

    public required DateTimeOffset OpenedAt { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The first second (Unix seconds) that breached.</summary>
    public required long FirstSecond { get; init; }

    public required double PeakPps { get; init; }

    public required double PeakBps { get; init; }

    public required double CurrentPps { get; init; }

    public required double CurrentBps { get; init; }

    /// <summary>
    /// The capacity of the link the traffic crosses (bits per second), as severity and the RTBH rule judged it; 0
    /// when unknown. For a destination or prefix, the largest link known.
    /// </summary>
    public double CapacityBps { get; init; }

    /// <summary>The threshold of <see cref="ThresholdMetric"/> when the incident opened.</summary>
    public required double Threshold { get; init; }

    public required DetectionMetric ThresholdMetric { get; init; }

    public IReadOnlyList<PortRate> TopSourcePorts { get; init; } = [];

    public IReadOnlyList<SourceRate> TopSources { get; init; } = [];

    /// <summary>
    /// For an interface incident whose packets were sampled (router mode): the destinations that took most of the
    /// traffic, heaviest first; <see cref="Address"/> is the first. Empty for every other incident.
    /// </summary>
    public IReadOnlyList<VictimRate> Victims { get; init; } = [];

    /// <summary>For a fleet incident: the nodes whose traffic made up the sum, heaviest first; empty for a node's own.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];

    /// <summary>The incident's packets kept on disk, or why there are none; null until the evidence writer reports.</summary>
    public PcapEvidence? Pcap { get; init; }

    /// <summary>Times the incident came back after it had calmed down.</summary>
    public int Reopened { get; init; }

    /// <summary>Why it closed; null while open.</summary>
    public CloseReason? CloseReason { get; init; }

    public bool IsOpen => ClosedAt is null;
}

/// <summary>Why an incident closed.</summary>
public enum CloseReason
{
    /// <summary>Its traffic stayed under threshold × hysteresis through the cool-down.</summary>
    Calm,

    /// <summary>It was open when the collector stopped and did not come back within a cool-down of the restart.</summary>
    Restart,

    /// <summary>Mitigation found an action whose incident the store no longer holds.</summary>
    NotFound,
}

/// <summary>The names close reasons have at the edges (JSON, rows, logs).</summary>
public static class CloseReasons
{
    public static string Name(CloseReason reason) => reason switch
    {
        CloseReason.Restart => "restart",
        CloseReason.NotFound => "not found at start-up",
        _ => "calm",
    };

    public static bool TryParse(string? name, out CloseReason reason) => EnumNames.TryParse(name, Name, out reason);
}

/// <summary>
/// An incident's packets in a capture file: where, how many, and the times of the first and last; or, with no
/// file, why there is none (flow exports carry no packets).
/// </summary>
public sealed record PcapEvidence(string? Path, long Packets, long Bytes, DateTimeOffset? FirstAt, DateTimeOffset? LastAt, string? Note);

/// <summary>One second of an open incident, kept with it.</summary>
public readonly record struct IncidentSecond(long IncidentId, long Second, double Pps, double Bps, double Flows, double UdpPps, double SynPps, double IcmpPps, double FragmentPps, bool Breaching);

/// <summary>What happened to an incident.</summary>
public enum IncidentChange
{
    /// <summary>It opened (or resumed after a restart, or reopened within its cool-down).</summary>
    Opened,

    /// <summary>Another second of it, severity unchanged or lower.</summary>
    Updated,

    /// <summary>Another second of it, and its severity rose above any it had.</summary>
    Escalated,

    Closed,

    /// <summary>A packet sample named its attack type and victims (router mode), where its counters could not.</summary>
    Described,
}

/// <summary>One change of an incident as the detector publishes it; every change but closing carries its second.</summary>
public readonly record struct IncidentEvent(IncidentChange Change, IncidentRecord Incident, IncidentSecond Second)
{
    public static IncidentEvent Closed(IncidentRecord incident) => new(IncidentChange.Closed, incident, default);

    /// <summary>Whether <see cref="Second"/> holds the incident's latest second.</summary>
    public bool HasSecond => Change is not (IncidentChange.Closed or IncidentChange.Described);
}

/// <summary>
/// Told about incidents on the detection thread, in order. Implementations must return quickly (queue the work):
/// the next second is waiting.
/// </summary>
public interface IIncidentObserver
{
    void OnIncident(in IncidentEvent change);
}

/// <summary>
/// The incident feed: every observer registered (the store, the log, mitigation; next alerts, pcap, fleet) is told
/// of every change, in registration order, so that the store records an incident before an action names it.
/// </summary>
public sealed class IncidentFeed : IIncidentObserver
{
    private IIncidentObserver[] _observers = [];

    public IReadOnlyList<IIncidentObserver> Observers => _observers;

    /// <summary>Adds an observer; done while the collector starts, before the first event.</summary>
    public IncidentFeed Subscribe(IIncidentObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers = [.. _observers, observer];
        return this;
    }

    public void OnIncident(in IncidentEvent change)
    {
        foreach (var observer in _observers)
        {
            observer.OnIncident(change);
        }
    }
}
