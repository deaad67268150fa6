using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts;

/// <summary>
/// An event document read back for a channel to render: channels work from the stored JSON, so that what is
/// delivered after a restart is exactly what was queued. Holds the parsed document until disposed.
/// </summary>
public sealed class AlertMessage : IDisposable
{
    private readonly JsonDocument _document;

    private AlertMessage(JsonDocument document, byte[] json)
    {
        _document = document;
        Json = json;
        var root = document.RootElement;
        Kind = AlertEventNames.TryParse(Text(root, "event"), out var kind) ? kind : AlertEventKind.Test;
        Id = Text(root, "id") ?? string.Empty;
        Node = Text(root, "node") ?? string.Empty;
        Url = Text(root, "url");
        At = Time(root, "at") ?? DateTimeOffset.UnixEpoch;
        Incident = root.TryGetProperty("incident", out var incident) && incident.ValueKind == JsonValueKind.Object ? incident : default;
        Actions = root.TryGetProperty("actions", out var actions) && actions.ValueKind == JsonValueKind.Array ? [.. actions.EnumerateArray()] : [];
    }

    /// <summary>The document as stored: what the webhook and the script receive, byte for byte.</summary>
    public byte[] Json { get; }

    public AlertEventKind Kind { get; }

    public string Id { get; }

    public string Node { get; }

    public string? Url { get; }

    public DateTimeOffset At { get; }

    public JsonElement Incident { get; }

    public IReadOnlyList<JsonElement> Actions { get; }

    public long IncidentId => Number(Incident, "id") is var id ? (long)id : 0;

    public string AttackType => Text(Incident, "attackType") ?? "unknown";

    public string? Vector => Text(Incident, "vector");

    /// <summary>A multi-vector attack's vectors, strongest first.</summary>
    public IReadOnlyList<string> Vectors =>
        Incident.ValueKind == JsonValueKind.Object && Incident.TryGetProperty("vectors", out var vectors) && vectors.ValueKind == JsonValueKind.Array
            ? [.. vectors.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)]
            : [];

    public string Severity => Text(Incident, "severity") ?? "low";

    public double Confidence => Number(Incident, "confidence");

    /// <summary>What was hit: the destination or prefix, else the interface, else the node.</summary>
    public string Target => Text(Incident, "address") ?? (Text(Incident, "interface") is { } name ? "interface " + name : "node " + Node);

    public DateTimeOffset OpenedAt => Time(Incident, "openedAt") ?? At;

    public DateTimeOffset? ClosedAt => Time(Incident, "closedAt");

    public static AlertMessage Parse(byte[] json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new AlertMessage(JsonDocument.Parse(json), json);
    }

    public static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static DateTimeOffset? Time(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out var time) ? time : null;

    public static double Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;

    /// <summary>An incident field by name, for channels that list them.</summary>
    public string? IncidentText(string name) => Text(Incident, name);

    public double IncidentNumber(string name) => Number(Incident, name);

    /// <summary>"UDP flood", "DNS amplification": a type's name for people.</summary>
    public static string Describe(string attackType) => attackType switch
    {
        "udp_flood" => "UDP flood",
        "syn_flood" => "SYN flood",
        "tcp_ack_flood" => "TCP ACK flood",
        "tcp_rst_flood" => "TCP RST flood",
        "icmp_flood" => "ICMP flood",
        "fragment_flood" => "IP fragment flood",
        "gre_flood" => "GRE flood",
        "carpet_bombing" => "Carpet bombing",
        "multi_vector" => "Multi-vector attack",
        "unknown" => "Unclassified flood",
        _ when attackType.EndsWith("_amplification", StringComparison.Ordinal) => attackType[..^"_amplification".Length].Replace('_', '-').ToUpperInvariant() + " amplification",
        _ => attackType,
    };

    /// <summary>"Incident 12 opened · UDP flood · 94 % · 192.0.2.10": one line, what every channel leads with.</summary>
    public string Title()
    {
        var vectors = Vectors;
        var what = Describe(AttackType)
            + (Vector is { } vector ? $" ({Describe(vector)})" : string.Empty)
            + (vectors.Count > 0 ? $" ({string.Join(" + ", vectors.Select(Describe))})" : string.Empty);
        return Kind == AlertEventKind.Test
            ? $"Test alert from {Node}: {what} on {Target} (not a real incident)"
            : string.Create(CultureInfo.InvariantCulture, $"Incident {IncidentId} {Verb()} · {what} · {Confidence * 100:0} % · {Target}");
    }

    /// <summary>The facts every channel shows, label and value, in order.</summary>
    public IReadOnlyList<(string Label, string Value)> Facts()
    {
        var facts = new List<(string, string)>
        {
            ("Severity", Severity),
            ("Node", Node),
            ("Peak", $"{Rate(IncidentNumber("peakPps"), "pps")}, {Rate(IncidentNumber("peakBps"), "bit/s")}"),
            ("Now", $"{Rate(IncidentNumber("currentPps"), "pps")}, {Rate(IncidentNumber("currentBps"), "bit/s")}"),
            ("Threshold", $"{Rate(IncidentNumber("threshold"), IncidentText("thresholdMetric") ?? "pps")}"),
            ("Opened", ReadableTime(OpenedAt)),
        };
        if (IncidentText("interface") is { } name)
        {
            facts.Add(("Interface", $"{name} {IncidentText("direction")}".TrimEnd()));
        }

        if (IncidentText("exporter") is { } exporter)
        {
            facts.Add(("Exporter", exporter));
        }

        if (Incident.ValueKind == JsonValueKind.Object && Incident.TryGetProperty("topSourcePorts", out var ports) && ports.ValueKind == JsonValueKind.Array && ports.GetArrayLength() > 0)
        {
            facts.Add(("Top source ports", string.Join(", ", ports.EnumerateArray().Take(5).Select(p =>
                string.Create(CultureInfo.InvariantCulture, $"{Text(p, "protocol")}/{Number(p, "port")} {Rate(Number(p, "pps"), "pps")}")))));
        }

        if (Actions.Count > 0)
        {
            facts.Add(("Mitigation", string.Join("; ", Actions.Select(a => $"{Text(a, "kind")} {Text(a, "state")}: {Text(a, "rule")}"))));
        }

        if (ClosedAt is { } closed)
        {
            facts.Add(("Closed", $"{ReadableTime(closed)} ({IncidentText("closeReason") ?? "calm"})"));
        }

        return facts;
    }

    /// <summary>The facts as plain lines ("Label: value").</summary>
    public string Body() => string.Join('\n', Facts().Select(f => $"{f.Label}: {f.Value}"));

    /// <summary>A severity's colour, as channels that colour messages show it (red for critical to grey for a test).</summary>
    public int Colour() => Kind switch
    {
        AlertEventKind.Resolved => 0x2EB67D,
        AlertEventKind.Test => 0x8A8A8A,
        _ => Severity switch
        {
            "critical" => 0xB00020,
            "high" => 0xE8590C,
            "medium" => 0xF2C744,
            _ => 0x4A90D9,
        },
    };

    public string ColourHex() => "#" + Colour().ToString("X6", CultureInfo.InvariantCulture);

    /// <summary>A time as the services' APIs take it: UTC, milliseconds, ISO 8601 (2026-12-04T09:30:02.004Z).</summary>
    public static string WireTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A time as people read it in a message: 2026-12-04 09:30:02 UTC.</summary>
    public static string ReadableTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>1.2 Mpps, 9.6 Gbit/s: rates as people read them.</summary>
    public static string Rate(double value, string unit)
    {
        var (scaled, prefix) = Math.Abs(value) switch
        {
            >= 1e12 => (value / 1e12, "T"),
            >= 1e9 => (value / 1e9, "G"),
            >= 1e6 => (value / 1e6, "M"),
            >= 1e3 => (value / 1e3, "k"),
            _ => (value, string.Empty),
        };
        return string.Create(CultureInfo.InvariantCulture, $"{scaled:0.#} {prefix}{unit}");
    }

    /// <summary>Cuts text to at most <paramref name="limit"/> characters, marking the cut.</summary>
    public static string Cut(string text, int limit)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= limit)
        {
            return text;
        }

        var end = limit - 1;
        if (end > 0 && char.IsHighSurrogate(text[end - 1]))
        {
            end--;
        }

        return new StringBuilder(text, 0, end, limit).Append('…').ToString();
    }

    public void Dispose() => _document.Dispose();

    private string Verb() => Kind switch
    {
        AlertEventKind.Opened => "opened",
        AlertEventKind.Escalated => "escalated to " + Severity,
        AlertEventKind.Mitigated => "mitigation changed",
        AlertEventKind.Resolved => "resolved",
        _ => "test",
    };
}
