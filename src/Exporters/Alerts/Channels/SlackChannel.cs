using System.Text.Json;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// A Slack incoming webhook: a header and the facts as Block Kit in an attachment coloured by severity, with
/// <c>text</c> as the notification's fallback. Slack reads <c>&amp; &lt; &gt;</c> in mrkdwn as markup
/// (<c>&lt;!channel&gt;</c> pings everyone), so every value is escaped.
/// </summary>
public sealed class SlackChannel(AlertChannelOptions options, HttpClient http) : HttpAlertChannel(options, http, new RateLimit(1, TimeSpan.FromSeconds(1)))
{
    /// <summary>Slack's limits: header text 150 characters, a section's field 2,000, at most 10 fields.</summary>
    private const int HeaderLength = 150;
    private const int FieldLength = 2000;
    private const int MaxFields = 10;

    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
    }

    public static byte[] Payload(AlertMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("text", Escape(message.Title()));
            writer.WriteStartArray("blocks");
            writer.WriteStartObject();
            writer.WriteString("type", "header");
            WriteText(writer, "plain_text", AlertMessage.Cut(message.Title(), HeaderLength));
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteStartArray("attachments");
            writer.WriteStartObject();
            writer.WriteString("color", message.ColourHex());
            writer.WriteStartArray("blocks");
            writer.WriteStartObject();
            writer.WriteString("type", "section");
            writer.WriteStartArray("fields");
            foreach (var (label, value) in message.Facts().Take(MaxFields))
            {
                writer.WriteStartObject();
                writer.WriteString("type", "mrkdwn");
                writer.WriteString("text", AlertMessage.Cut($"*{Escape(label)}*\n{Escape(value)}", FieldLength));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            if (message.Url is { } url)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "context");
                writer.WriteStartArray("elements");
                writer.WriteStartObject();
                writer.WriteString("type", "mrkdwn");
                writer.WriteString("text", $"<{Escape(url)}|Incident {message.IncidentId} in the collector's API>");
                writer.WriteEndObject();
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    protected override HttpRequestMessage Request(AlertMessage message) => PostJson(Options.Url, Payload(message));

    private static void WriteText(Utf8JsonWriter writer, string type, string text)
    {
        writer.WriteStartObject("text");
        writer.WriteString("type", type);
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }
}
