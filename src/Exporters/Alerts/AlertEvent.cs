using System.Globalization;
using System.Text.Json;
using FlowCollector.Detection;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Alerts;

/// <summary>What an alert tells.</summary>
public enum AlertEventKind
{
    Opened,

    /// <summary>The incident's severity rose.</summary>
    Escalated,

    /// <summary>One of its mitigation actions was applied, failed or was withdrawn.</summary>
    Mitigated,

    Resolved,

    /// <summary>Sent by <c>flowcollector alerts test</c>: proves the channel works.</summary>
    Test,
}

/// <summary>The names events have at the edges (JSON, rows, configuration).</summary>
public static class AlertEventNames
{
    public static string Name(AlertEventKind kind) => kind switch
    {
        AlertEventKind.Opened => "opened",
        AlertEventKind.Escalated => "escalated",
        AlertEventKind.Mitigated => "mitigated",
        AlertEventKind.Resolved => "resolved",
        _ => "test",
    };

    public static bool TryParse(string? name, out AlertEventKind kind) => EnumNames.TryParse(name, Name, out kind);
}

/// <summary>
/// One event, the same document everywhere: the webhook's body, the script's standard input, the outbox row, the
/// API. <see cref="Id"/> is unique per delivery (one event to one channel) and stays the same across its retries,
/// so that a receiver can drop a repeat.
/// </summary>
public sealed record AlertEvent(AlertEventKind Kind, string Id, DateTimeOffset At, string Node, IncidentRecord Incident, IReadOnlyList<MitigationAction> Actions, string? Url)
{
    /// <summary>The version of the document's layout; a change that removes or renames a field raises it.</summary>
    public const int Schema = 1;

    /// <summary>A delivery id: time-ordered, unique without coordination.</summary>
    public static string NewId() => "evt_" + Guid.CreateVersion7().ToString("N", CultureInfo.InvariantCulture);

    /// <summary>The link to the incident in the collector's API, when the collector knows its own address.</summary>
    public static string? LinkTo(string baseUrl, long incidentId) =>
        baseUrl.Length == 0 ? null : string.Create(CultureInfo.InvariantCulture, $"{baseUrl.TrimEnd('/')}/api/incidents?id={incidentId}");

    /// <summary>The event document, as UTF-8 JSON.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream(2048);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer);
        }

        return buffer.ToArray();
    }

    public void Write(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteNumber("schema", Schema);
        writer.WriteString("event", AlertEventNames.Name(Kind));
        writer.WriteString("id", Id);
        writer.WriteString("at", At.UtcDateTime);
        writer.WriteString("node", Node);
        writer.WritePropertyName("incident");
        IncidentJson.Write(writer, Incident);
        writer.WriteStartArray("actions");
        foreach (var action in Actions)
        {
            MitigationJson.Write(writer, action);
        }

        writer.WriteEndArray();
        if (Url is not null)
        {
            writer.WriteString("url", Url);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// What <c>flowcollector alerts test</c> sends: a made-up incident (documentation addresses), so that a channel
    /// shows what a real alert looks like.
    /// </summary>
    public static AlertEvent Sample(string node, DateTimeOffset now, string? url) => new(
        AlertEventKind.Test,
        NewId(),
        now,
        node,
        new IncidentRecord
        {
            Id = 0,
            Key = "destination/192.0.2.10",
            KeyKind = KeyKind.Destination,
            Node = node,
            Address = "192.0.2.10",
            AttackType = AttackType.UdpFlood,
            Confidence = 0.94,
            Severity = Severity.High,
            OpenedAt = now,
            UpdatedAt = now,
            FirstSecond = now.ToUnixTimeSeconds(),
            PeakPps = 1_200_000,
            PeakBps = 9.6e9,
            CurrentPps = 1_200_000,
            CurrentBps = 9.6e9,
            Threshold = 50_000,
            ThresholdMetric = DetectionMetric.Pps,
            TopSourcePorts = [new PortRate("udp", 53, 1_100_000)],
            TopSources = [new SourceRate("198.51.100.53", 400_000)],
        },
        [],
        url);
}
