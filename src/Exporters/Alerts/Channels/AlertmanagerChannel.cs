using System.Globalization;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// Prometheus Alertmanager (<c>POST /api/v2/alerts</c>), which gives operators every receiver Alertmanager has,
/// with its silences, inhibition and grouping. A firing alert is sent again every <see cref="Repeat"/> with an end a
/// few repeats ahead (as Prometheus does), so that Alertmanager keeps it while the incident is open and lets it go if
/// the collector disappears; resolving sends the incident's closing time as <c>endsAt</c>. The severity is a label
/// (receivers route on it) and labels are an alert's identity, so each post also ends the incident's alerts at the
/// lower severities: an escalated incident is one firing alert, not one per severity it passed through.
/// </summary>
public sealed class AlertmanagerChannel(AlertChannelOptions options, HttpClient http, TimeProvider time) : HttpAlertChannel(options, http, RateLimit.None)
{
    public const string AlertName = "FlowCollectorIncident";

    public override TimeSpan? Repeat => TimeSpan.FromSeconds(Options.RepeatSeconds);

    public static byte[] Payload(AlertMessage message, DateTimeOffset now, TimeSpan repeat)
    {
        ArgumentNullException.ThrowIfNull(message);
        var test = message.Kind == AlertEventKind.Test;
        var resolved = message.Kind == AlertEventKind.Resolved;
        var endsAt = resolved ? message.ClosedAt ?? now : now + (4 * repeat);
        var severities = new[] { "low", "medium", "high", "critical" };
        var current = Math.Max(0, Array.IndexOf(severities, message.Severity));
        return Json(writer =>
        {
            writer.WriteStartArray();
            Alert(writer, message, message.Severity, endsAt, test);
            for (var lower = 0; lower < current && !test; lower++)
            {
                Alert(writer, message, severities[lower], resolved ? endsAt : now, test);
            }

            writer.WriteEndArray();
        });
    }

    protected override HttpRequestMessage Request(AlertMessage message) =>
        PostJson(Options.Url.TrimEnd('/') + "/api/v2/alerts", Payload(message, time.GetUtcNow(), Repeat!.Value));

    private static void Alert(Utf8JsonWriter writer, AlertMessage message, string severity, DateTimeOffset endsAt, bool test)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("labels");
        writer.WriteString("alertname", test ? "FlowCollectorTest" : AlertName);
        writer.WriteString("node", message.Node);
        writer.WriteString("incident", test ? message.Id : message.IncidentId.ToString(CultureInfo.InvariantCulture));
        writer.WriteString("severity", severity);
        writer.WriteString("target", message.Target);
        writer.WriteString("key_kind", AlertMessage.Text(message.Incident, "keyKind") ?? "destination");
        writer.WriteEndObject();
        writer.WriteStartObject("annotations");
        writer.WriteString("summary", message.Title());
        writer.WriteString("description", message.Body());
        writer.WriteString("attack_type", message.AttackType);
        writer.WriteEndObject();
        writer.WriteString("startsAt", AlertMessage.WireTime(message.OpenedAt));
        writer.WriteString("endsAt", AlertMessage.WireTime(endsAt));
        if (message.Url is { } url)
        {
            writer.WriteString("generatorURL", url);
        }

        writer.WriteEndObject();
    }
}
