using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Exporters.Storage;

// Rows as the database holds them. Internal, not private: Dapper.AOT's generated readers and writers live outside
// the store class and must see them.
internal sealed class LimitRow
{
    public long Limit { get; init; }
}

internal sealed class PageRow
{
    public long Before { get; init; }

    public long Limit { get; init; }
}

internal sealed class IdRow
{
    public long Id { get; init; }
}

internal sealed class SinceRow
{
    public long Since { get; init; }
}

internal sealed class RetentionRow
{
    public long Before { get; init; }

    public long Limit { get; init; }
}

internal sealed class IncidentRow
{
    public long Id { get; set; }
    public string Key { get; set; } = string.Empty;
    public string KeyKind { get; set; } = string.Empty;
    public string Node { get; set; } = string.Empty;
    public string? Source { get; set; }
    public string? Exporter { get; set; }
    public string? Interface { get; set; }
    public string? Direction { get; set; }
    public string? Address { get; set; }
    public string AttackType { get; set; } = string.Empty;
    public string? Vector { get; set; }

    /// <summary>A multi-vector attack's vectors by name, comma-separated; empty for every other type.</summary>
    public string Vectors { get; set; } = string.Empty;
    public double Confidence { get; set; }
    public string Severity { get; set; } = string.Empty;
    public long OpenedAt { get; set; }
    public long? ClosedAt { get; set; }
    public long UpdatedAt { get; set; }
    public long FirstSecond { get; set; }
    public double PeakPps { get; set; }
    public double PeakBps { get; set; }
    public double CurrentPps { get; set; }
    public double CurrentBps { get; set; }
    public double CapacityBps { get; set; }
    public double Threshold { get; set; }
    public string ThresholdMetric { get; set; } = string.Empty;
    public string TopSourcePorts { get; set; } = "[]";
    public string TopSources { get; set; } = "[]";
    public long Reopened { get; set; }
    public string? CloseReason { get; set; }
    public string Victims { get; set; } = "[]";
    public string? PcapPath { get; set; }
    public long? PcapPackets { get; set; }
    public long? PcapBytes { get; set; }
    public long? PcapFirstAt { get; set; }
    public long? PcapLastAt { get; set; }
    public string? PcapNote { get; set; }

    public static IncidentRow From(IncidentRecord record) => new()
    {
        Id = record.Id,
        Key = record.Key,
        KeyKind = TrafficKey.KindName(record.KeyKind),
        Node = record.Node,
        Source = record.Source,
        Exporter = record.Exporter,
        Interface = record.Interface,
        Direction = record.Direction,
        Address = record.Address,
        AttackType = AttackNames.Name(record.AttackType),
        Vector = record.Vector is { } vector ? AttackNames.Name(vector) : null,
        Vectors = string.Join(',', record.Vectors.Select(AttackNames.Name)),
        Confidence = record.Confidence,
        Severity = AttackNames.Name(record.Severity),
        OpenedAt = record.OpenedAt.ToUnixTimeMilliseconds(),
        ClosedAt = record.ClosedAt?.ToUnixTimeMilliseconds(),
        UpdatedAt = record.UpdatedAt.ToUnixTimeMilliseconds(),
        FirstSecond = record.FirstSecond,
        PeakPps = record.PeakPps,
        PeakBps = record.PeakBps,
        CurrentPps = record.CurrentPps,
        CurrentBps = record.CurrentBps,
        CapacityBps = record.CapacityBps,
        Threshold = record.Threshold,
        ThresholdMetric = MetricValues.Name(record.ThresholdMetric),
        TopSourcePorts = IncidentJson.Ports(record.TopSourcePorts),
        TopSources = IncidentJson.Sources(record.TopSources),
        Reopened = record.Reopened,
        CloseReason = record.CloseReason is { } reason ? CloseReasons.Name(reason) : null,
        Victims = IncidentJson.Victims(record.Victims),
    };

    public IncidentRecord ToRecord() => new()
    {
        Id = Id,
        Key = Key,
        KeyKind = TrafficKey.TryParseKind(KeyKind, out var kind) ? kind : throw new FormatException($"key kind '{KeyKind}' is not a kind of key"),
        Node = Node,
        Source = Source,
        Exporter = Exporter,
        Interface = Interface,
        Direction = Direction,
        Address = Address,
        AttackType = ParseAttackType(AttackType),
        Vector = Vector is null ? null : ParseAttackType(Vector),
        Vectors = Vectors.Length == 0 ? [] : [.. Vectors.Split(',').Select(ParseAttackType)],
        Confidence = Confidence,
        Severity = AttackNames.TryParse(Severity, out Severity severity) ? severity : throw new FormatException($"severity '{Severity}' is not a severity"),
        OpenedAt = DateTimeOffset.FromUnixTimeMilliseconds(OpenedAt),
        ClosedAt = ClosedAt is { } closed ? DateTimeOffset.FromUnixTimeMilliseconds(closed) : null,
        UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
        FirstSecond = FirstSecond,
        PeakPps = PeakPps,
        PeakBps = PeakBps,
        CurrentPps = CurrentPps,
        CurrentBps = CurrentBps,
        CapacityBps = CapacityBps,
        Threshold = Threshold,
        ThresholdMetric = MetricValues.TryParse(ThresholdMetric, out var metric) ? metric : throw new FormatException($"threshold metric '{ThresholdMetric}' is not a metric"),
        TopSourcePorts = IncidentJson.ParsePorts(TopSourcePorts),
        TopSources = IncidentJson.ParseSources(TopSources),
        Reopened = (int)Reopened,
        CloseReason = CloseReason is null ? null : CloseReasons.TryParse(CloseReason, out var reason) ? reason : throw new FormatException($"close reason '{CloseReason}' is not a reason to close"),
        Victims = IncidentJson.ParseVictims(Victims),
        Pcap = PcapPackets is { } packets
            ? new PcapRow { Path = PcapPath, Packets = packets, Bytes = PcapBytes ?? 0, FirstAt = PcapFirstAt, LastAt = PcapLastAt, Note = PcapNote }.ToEvidence()
            : null,
    };

    /// <summary>A type a later version may have added reads as unknown rather than losing its incident.</summary>
    private static AttackType ParseAttackType(string name) => AttackNames.TryParse(name, out AttackType type) ? type : Detection.Incidents.AttackType.Unknown;
}

internal sealed class PcapRow
{
    public long IncidentId { get; set; }
    public string? Path { get; set; }
    public long Packets { get; set; }
    public long Bytes { get; set; }
    public long? FirstAt { get; set; }
    public long? LastAt { get; set; }
    public string? Note { get; set; }

    public static PcapRow From(long incidentId, PcapEvidence pcap) => new()
    {
        IncidentId = incidentId,
        Path = pcap.Path,
        Packets = pcap.Packets,
        Bytes = pcap.Bytes,
        FirstAt = pcap.FirstAt is { } first ? CapturedFrames.Microseconds(first) : null,
        LastAt = pcap.LastAt is { } last ? CapturedFrames.Microseconds(last) : null,
        Note = pcap.Note,
    };

    public PcapEvidence ToEvidence() => new(
        Path,
        Packets,
        Bytes,
        FirstAt is { } first ? CapturedFrames.Time(first) : null,
        LastAt is { } last ? CapturedFrames.Time(last) : null,
        Note);
}

internal sealed class SampleRow
{
    public long IncidentId { get; set; }
    public long Second { get; set; }
    public double Pps { get; set; }
    public double Bps { get; set; }
    public double Flows { get; set; }
    public double UdpPps { get; set; }
    public double SynPps { get; set; }
    public double IcmpPps { get; set; }
    public double FragmentPps { get; set; }
    public long Breaching { get; set; }

    public static SampleRow From(IncidentSecond s) => new()
    {
        IncidentId = s.IncidentId, Second = s.Second, Pps = s.Pps, Bps = s.Bps, Flows = s.Flows, UdpPps = s.UdpPps,
        SynPps = s.SynPps, IcmpPps = s.IcmpPps, FragmentPps = s.FragmentPps, Breaching = s.Breaching ? 1 : 0,
    };

    public IncidentSecond ToSecond() => new(IncidentId, Second, Pps, Bps, Flows, UdpPps, SynPps, IcmpPps, FragmentPps, Breaching != 0);
}

internal sealed class BaselineRow
{
    public string Key { get; set; } = string.Empty;
    public long Learned { get; set; }
    public long Samples { get; set; }
    public long FirstSecond { get; set; }
    public long LastSecond { get; set; }
    public string Mean { get; set; } = string.Empty;
    public string Spread { get; set; } = string.Empty;
    public long SavedAt { get; set; }

    public static BaselineRow From(SavedBaseline saved, long savedAt) => new()
    {
        Key = saved.Key,
        Learned = saved.Learned ? 1 : 0,
        Samples = saved.Baseline.Samples,
        FirstSecond = saved.FirstSecond,
        LastSecond = saved.LastSecond,
        Mean = IncidentJson.Values(saved.Baseline.Mean),
        Spread = IncidentJson.Values(saved.Baseline.Spread),
        SavedAt = savedAt,
    };

    public SavedBaseline ToSaved()
    {
        var baseline = new KeyBaseline { Samples = Samples, Mean = IncidentJson.ParseValues(Mean), Spread = IncidentJson.ParseValues(Spread) };
        return new SavedBaseline(Key, baseline, FirstSecond, LastSecond, Learned != 0);
    }
}

internal sealed class ActionRow
{
    public long Id { get; set; }
    public long IncidentId { get; set; }
    public string Kind { get; set; } = string.Empty;
    public string Rule { get; set; } = string.Empty;
    public string Command { get; set; } = string.Empty;
    public long? AppliedAt { get; set; }
    public long? WithdrawnAt { get; set; }
    public long? Dropped { get; set; }
    public string State { get; set; } = string.Empty;
    public long Attempts { get; set; }
    public long DryRun { get; set; }
    public long WithdrawRequested { get; set; }
    public string? Error { get; set; }

    public static ActionRow From(MitigationAction action) => new()
    {
        Id = action.Id,
        IncidentId = action.IncidentId,
        Kind = ActionNames.Name(action.Kind),
        Rule = action.Rule,
        Command = action.Command,
        AppliedAt = action.AppliedAt?.ToUnixTimeMilliseconds(),
        WithdrawnAt = action.WithdrawnAt?.ToUnixTimeMilliseconds(),
        Dropped = action.Dropped,
        State = ActionNames.Name(action.State),
        Attempts = action.Attempts,
        DryRun = action.DryRun ? 1 : 0,
        WithdrawRequested = action.WithdrawRequested ? 1 : 0,
        Error = action.Error,
    };

    public MitigationAction ToAction() => new()
    {
        Id = Id,
        IncidentId = IncidentId,
        Kind = ActionNames.TryParse(Kind, out ActionKind kind) ? kind : throw new FormatException($"action {Id}: '{Kind}' is not a kind of action"),
        Rule = Rule,
        Command = Command,
        AppliedAt = AppliedAt is { } applied ? DateTimeOffset.FromUnixTimeMilliseconds(applied) : null,
        WithdrawnAt = WithdrawnAt is { } withdrawn ? DateTimeOffset.FromUnixTimeMilliseconds(withdrawn) : null,
        Dropped = Dropped,
        State = ActionNames.TryParse(State, out ActionState state) ? state : throw new FormatException($"action {Id}: '{State}' is not a state of an action"),
        Attempts = (int)Attempts,
        DryRun = DryRun != 0,
        WithdrawRequested = WithdrawRequested != 0,
        Error = Error,
    };
}
