using System.Text;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// A Telegram bot's <c>sendMessage</c> in HTML parse mode (safer than MarkdownV2 for text the collector does not
/// control): every value escaped, the message within Telegram's 4,096 characters. Telegram answers 200 with
/// <c>"ok": true</c>; a 429 carries <c>parameters.retry_after</c>.
/// </summary>
public sealed class TelegramChannel(AlertChannelOptions options, HttpClient http, string token) : HttpAlertChannel(options, http, new RateLimit(20, TimeSpan.FromMinutes(1)))
{
    public const string DefaultUrl = "https://api.telegram.org";
    public const int TextLength = 4096;

    /// <summary>The four characters Telegram's HTML reads as markup; everything else stays as it is (UTF-8).</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);
    }

    /// <summary>The message text: the title in bold, then one line per fact, whole lines only, within the limit.</summary>
    public static string Text(AlertMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var text = new StringBuilder("<b>").Append(Escape(AlertMessage.Cut(message.Title(), 1000))).Append("</b>");
        var lines = message.Facts().Select(f => $"\n<b>{Escape(f.Label)}:</b> {Escape(AlertMessage.Cut(f.Value, 1000))}").ToList();
        if (message.Url is { } url)
        {
            lines.Add($"\n<a href=\"{Escape(url)}\">Incident in FlowCollector</a>");
        }

        foreach (var line in lines)
        {
            if (text.Length + line.Length > TextLength)
            {
                break;
            }

            text.Append(line);
        }

        return text.ToString();
    }

    public static byte[] Payload(AlertMessage message, string chatId) => Json(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("chat_id", chatId);
        writer.WriteString("text", Text(message));
        writer.WriteString("parse_mode", "HTML");
        writer.WriteBoolean("disable_web_page_preview", true);
        writer.WriteEndObject();
    });

    protected override HttpRequestMessage Request(AlertMessage message) =>
        PostJson($"{(Options.Url.Length > 0 ? Options.Url : DefaultUrl).TrimEnd('/')}/bot{token}/sendMessage", Payload(message, Options.ChatId));

    protected override bool Acknowledged(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    protected override TimeSpan? RetryAfterInBody(string body) => SecondsIn(body, "parameters", "retry_after");
}
