using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Tests.Alerts;

/// <summary>Incidents and events as the collector makes them, for the alert tests.</summary>
internal static class AlertSamples
{
    public static readonly DateTimeOffset Opened = new(2026, 12, 4, 9, 30, 0, TimeSpan.Zero);

    public static IncidentRecord Incident(long id = 42, Severity severity = Severity.High, string address = "203.0.113.10", DateTimeOffset? closed = null, AttackType type = AttackType.DnsAmplification) => new()
    {
        Id = id,
        Key = $"destination/{address}",
        KeyKind = KeyKind.Destination,
        Node = "edge-1",
        Address = address,
        AttackType = type,
        Confidence = 0.94,
        Severity = severity,
        OpenedAt = Opened,
        ClosedAt = closed,
        CloseReason = closed is null ? null : CloseReason.Calm,
        UpdatedAt = closed ?? Opened.AddSeconds(5),
        FirstSecond = Opened.ToUnixTimeSeconds(),
        PeakPps = 1_250_000,
        PeakBps = 9.8e9,
        CurrentPps = 1_100_000,
        CurrentBps = 8.7e9,
        Threshold = 60_000,
        ThresholdMetric = DetectionMetric.Pps,
        TopSourcePorts = [new PortRate("udp", 53, 1_000_000), new PortRate("udp", 0, 200_000)],
        TopSources = [new SourceRate("198.51.100.53", 300_000)],
    };

    public static MitigationAction Action(long incidentId = 42, ActionState state = ActionState.Applied) => new()
    {
        Id = 7,
        IncidentId = incidentId,
        Kind = ActionKind.Nftables,
        Rule = "ip daddr 203.0.113.10 udp sport 53 drop",
        State = state,
        AppliedAt = Opened.AddSeconds(1),
    };

    public static AlertMessage Message(AlertEventKind kind, IncidentRecord? incident = null, IReadOnlyList<MitigationAction>? actions = null, string? url = "https://collector.example.net/api/incidents?id=42") =>
        AlertMessage.Parse(new AlertEvent(kind, AlertEvent.NewId(), Opened.AddSeconds(2), "edge-1", incident ?? Incident(), actions ?? [Action()], url).ToJson());

    public static AlertChannelOptions Channel(string type, string url, string name = "") => new() { Name = name.Length > 0 ? name : type, Type = type, Url = url, TimeoutSeconds = 2 };
}
