namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// A Discord webhook: one embed (title, description, colour by severity, the facts as fields, timestamp) kept within
/// Discord's limits, which refuse the whole message when exceeded: title 256, description 4,096, 25 fields, field
/// name 256 and value 1,024, footer 2,048, 6,000 characters in all. 429 answers carry <c>retry_after</c> in seconds.
/// </summary>
public sealed class DiscordChannel(AlertChannelOptions options, HttpClient http) : HttpAlertChannel(options, http, new RateLimit(5, TimeSpan.FromSeconds(2)))
{
    public const int TitleLength = 256;
    public const int DescriptionLength = 4096;
    public const int MaxFields = 25;
    public const int FieldNameLength = 256;
    public const int FieldValueLength = 1024;
    public const int FooterLength = 2048;
    public const int TotalLength = 6000;

    public static byte[] Payload(AlertMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var title = AlertMessage.Cut(message.Title(), TitleLength);
        var footer = AlertMessage.Cut($"FlowCollector · {message.Node} · {message.Id}", FooterLength);
        var fields = message.Facts().Take(MaxFields).Select(f => (Name: AlertMessage.Cut(f.Label, FieldNameLength), Value: AlertMessage.Cut(f.Value, FieldValueLength))).ToList();
        var description = Description(message);

        // The total counts title, description, field names and values and the footer: fields go from the end, then
        // the description is cut, until it fits.
        int Total() => title.Length + description.Length + footer.Length + fields.Sum(f => f.Name.Length + f.Value.Length);
        while (Total() > TotalLength && fields.Count > 0)
        {
            fields.RemoveAt(fields.Count - 1);
        }

        if (Total() > TotalLength)
        {
            description = AlertMessage.Cut(description, Math.Max(1, description.Length - (Total() - TotalLength)));
        }

        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("username", "FlowCollector");
            writer.WriteStartObject("allowed_mentions");
            writer.WriteStartArray("parse");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteStartArray("embeds");
            writer.WriteStartObject();
            writer.WriteString("title", title);
            writer.WriteString("description", description);
            if (message.Url is { } url)
            {
                writer.WriteString("url", url);
            }

            writer.WriteNumber("color", message.Colour());
            writer.WriteStartArray("fields");
            foreach (var (name, value) in fields)
            {
                writer.WriteStartObject();
                writer.WriteString("name", name);
                writer.WriteString("value", value);
                writer.WriteBoolean("inline", value.Length <= 40);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("timestamp", AlertMessage.WireTime(message.At));
            writer.WriteStartObject("footer");
            writer.WriteString("text", footer);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    protected override HttpRequestMessage Request(AlertMessage message) => PostJson(Options.Url, Payload(message));

    protected override TimeSpan? RetryAfterInBody(string body) => SecondsIn(body, "retry_after");

    private static string Description(AlertMessage message) => AlertMessage.Cut(
        message.Kind switch
        {
            AlertEventKind.Resolved => $"The attack on {message.Target} has ended.",
            AlertEventKind.Mitigated => $"Mitigation of the attack on {message.Target} changed.",
            AlertEventKind.Escalated => $"The attack on {message.Target} is now {message.Severity}.",
            AlertEventKind.Test => "A test of this channel: no incident is open.",
            _ => $"An attack on {message.Target} was detected.",
        },
        DescriptionLength);
}
