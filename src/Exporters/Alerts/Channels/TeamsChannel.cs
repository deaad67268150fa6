namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// Microsoft Teams through a Workflows webhook: an Adaptive Card 1.4 in a <c>message</c> attachment (the Office
/// 365 connector payloads are retired: they are accepted and then dropped by the flow).
/// </summary>
public sealed class TeamsChannel(AlertChannelOptions options, HttpClient http) : HttpAlertChannel(options, http, new RateLimit(1, TimeSpan.FromSeconds(1)))
{
    public static byte[] Payload(AlertMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var colour = message.Kind switch
        {
            AlertEventKind.Resolved => "Good",
            AlertEventKind.Test => "Default",
            _ => message.Severity is "critical" or "high" ? "Attention" : "Warning",
        };
        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message");
            writer.WriteStartArray("attachments");
            writer.WriteStartObject();
            writer.WriteString("contentType", "application/vnd.microsoft.card.adaptive");
            writer.WriteNull("contentUrl");
            writer.WriteStartObject("content");
            writer.WriteString("$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
            writer.WriteString("type", "AdaptiveCard");
            writer.WriteString("version", "1.4");
            writer.WriteStartObject("msteams");
            writer.WriteString("width", "Full");
            writer.WriteEndObject();
            writer.WriteStartArray("body");
            writer.WriteStartObject();
            writer.WriteString("type", "TextBlock");
            writer.WriteString("text", message.Title());
            writer.WriteString("weight", "Bolder");
            writer.WriteString("size", "Medium");
            writer.WriteString("color", colour);
            writer.WriteBoolean("wrap", true);
            writer.WriteEndObject();
            writer.WriteStartObject();
            writer.WriteString("type", "FactSet");
            writer.WriteStartArray("facts");
            foreach (var (label, value) in message.Facts())
            {
                writer.WriteStartObject();
                writer.WriteString("title", label);
                writer.WriteString("value", value);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndArray();
            if (message.Url is { } url)
            {
                writer.WriteStartArray("actions");
                writer.WriteStartObject();
                writer.WriteString("type", "Action.OpenUrl");
                writer.WriteString("title", "Open the incident");
                writer.WriteString("url", url);
                writer.WriteEndObject();
                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    protected override HttpRequestMessage Request(AlertMessage message) => PostJson(Options.Url, Payload(message));
}
