using System.Globalization;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// PagerDuty's Events API v2 (<c>POST /v2/enqueue</c>): <c>trigger</c> when an incident opens (and again as it
/// escalates or its mitigation changes, which PagerDuty folds into the open alert), <c>resolve</c> when it closes,
/// correlated by a dedup key stable for the incident. Severity maps to critical, error, warning, info.
/// </summary>
public sealed class PagerDutyChannel(AlertChannelOptions options, HttpClient http, string routingKey) : HttpAlertChannel(options, http, new RateLimit(2, TimeSpan.FromSeconds(1)))
{
    public const string DefaultUrl = "https://events.pagerduty.com";
    private const int SummaryLength = 1024;

    /// <summary>The same key for every event of one incident of one node (PagerDuty allows 255 characters).</summary>
    public static string DedupKey(AlertMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var key = message.Kind == AlertEventKind.Test
            ? $"flowcollector/{message.Node}/test/{message.Id}"
            : string.Create(CultureInfo.InvariantCulture, $"flowcollector/{message.Node}/incident/{message.IncidentId}");
        return AlertMessage.Cut(key, 255);
    }

    public static string SeverityOf(string severity) => severity switch
    {
        "critical" => "critical",
        "high" => "error",
        "medium" => "warning",
        _ => "info",
    };

    public static byte[] Payload(AlertMessage message, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("routing_key", routingKey);
            writer.WriteString("dedup_key", DedupKey(message));
            if (message.Kind == AlertEventKind.Resolved)
            {
                writer.WriteString("event_action", "resolve");
                writer.WriteEndObject();
                return;
            }

            writer.WriteString("event_action", "trigger");
            writer.WriteString("client", "FlowCollector");
            if (message.Url is { } url)
            {
                writer.WriteString("client_url", url);
            }

            writer.WriteStartObject("payload");
            writer.WriteString("summary", AlertMessage.Cut(message.Title(), SummaryLength));
            writer.WriteString("source", message.Node);
            writer.WriteString("severity", message.Kind == AlertEventKind.Test ? "info" : SeverityOf(message.Severity));
            writer.WriteString("timestamp", AlertMessage.WireTime(message.OpenedAt));
            writer.WriteString("component", message.Target);
            writer.WriteString("group", AlertMessage.Text(message.Incident, "keyKind") ?? "incident");
            writer.WriteString("class", message.AttackType);
            writer.WriteStartObject("custom_details");
            writer.WriteString("event", AlertEventNames.Name(message.Kind));
            writer.WriteString("event_id", message.Id);
            writer.WritePropertyName("incident");
            message.Incident.WriteTo(writer);
            writer.WriteStartArray("actions");
            foreach (var action in message.Actions)
            {
                action.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndObject();
            if (message.Url is { } link)
            {
                writer.WriteStartArray("links");
                writer.WriteStartObject();
                writer.WriteString("href", link);
                writer.WriteString("text", "Incident in FlowCollector");
                writer.WriteEndObject();
                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        });
    }

    protected override HttpRequestMessage Request(AlertMessage message) =>
        PostJson((Options.Url.Length > 0 ? Options.Url : DefaultUrl).TrimEnd('/') + "/v2/enqueue", Payload(message, routingKey));

    /// <summary>PagerDuty answers 202 with {"status":"success"}; anything else in a 2xx is not an acceptance.</summary>
    protected override bool Acknowledged(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return AlertMessage.Text(document.RootElement, "status") == "success";
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
