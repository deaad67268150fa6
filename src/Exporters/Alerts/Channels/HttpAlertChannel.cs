using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// A channel that posts JSON over HTTP: the request is the subclass's, the reading of the answer is shared. 2xx is
/// sent; 429 (with Retry-After, or the service's own retry_after), 408, 425 and 5xx are retried, as are timeouts and
/// network errors; any other 4xx is the service refusing what it was sent, and retrying would not change that.
/// </summary>
public abstract class HttpAlertChannel(AlertChannelOptions options, HttpClient http, RateLimit defaultLimit) : IAlertChannel
{
    private const int DetailLength = 300;

    public string Name => options.Name;

    public string Type => options.Type;

    public RateLimit Limit { get; } = options.LimitOr(defaultLimit);

    public virtual TimeSpan? Repeat => null;

    protected AlertChannelOptions Options => options;

    public async Task<DeliveryAnswer> SendAsync(AlertMessage message, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(message);
        using var request = Request(message);
        if (request is null)
        {
            return new DeliveryAnswer(DeliveryOutcome.Skipped, $"{Type} has nothing to send for {AlertEventNames.Name(message.Kind)}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var body = await ReadBodyAsync(response, timeout.Token).ConfigureAwait(false);
            return Answer(response, body);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new DeliveryAnswer(DeliveryOutcome.Retry, string.Create(CultureInfo.InvariantCulture, $"no answer within {options.TimeoutSeconds} s"));
        }
        catch (HttpRequestException exception)
        {
            return new DeliveryAnswer(DeliveryOutcome.Retry, Redact(exception.Message));
        }
    }

    /// <summary>The request for this event; null when the channel has nothing to say about it.</summary>
    protected abstract HttpRequestMessage? Request(AlertMessage message);

    /// <summary>Whether a 2xx answer really means delivered (Telegram says so in its body).</summary>
    protected virtual bool Acknowledged(string body) => true;

    /// <summary>A wait the service gave in its body (Discord's and Telegram's retry_after, in seconds).</summary>
    protected virtual TimeSpan? RetryAfterInBody(string body) => null;

    protected static HttpRequestMessage PostJson(string url, Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        return PostJson(url, Json(write));
    }

    protected static HttpRequestMessage PostJson(string url, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
    }

    protected static byte[] Json(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var buffer = new MemoryStream(2048);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>A seconds value at <paramref name="path"/> of a JSON body, if there is one.</summary>
    protected static TimeSpan? SecondsIn(string body, params string[] path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var document = JsonDocument.Parse(body);
            var element = document.RootElement;
            foreach (var name in path)
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
                {
                    return null;
                }
            }

            return element.ValueKind == JsonValueKind.Number && element.GetDouble() is var seconds and >= 0 and < 86_400 ? TimeSpan.FromSeconds(seconds) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private DeliveryAnswer Answer(HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        var detail = string.Create(CultureInfo.InvariantCulture, $"HTTP {status}{(body.Length > 0 ? " " + body : string.Empty)}");
        if (response.IsSuccessStatusCode)
        {
            return Acknowledged(body) ? new DeliveryAnswer(DeliveryOutcome.Sent, detail) : new DeliveryAnswer(DeliveryOutcome.Retry, detail);
        }

        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return new DeliveryAnswer(DeliveryOutcome.Retry, detail, RetryAfterInHeaders(response) ?? RetryAfterInBody(body) ?? TimeSpan.FromSeconds(1));
        }

        return status is 408 or 425 or >= 500
            ? new DeliveryAnswer(DeliveryOutcome.Retry, detail, status == 503 ? RetryAfterInHeaders(response) : null)
            : new DeliveryAnswer(DeliveryOutcome.Failed, detail);
    }

    private static TimeSpan? RetryAfterInHeaders(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retry)
        {
            return null;
        }

        var wait = retry.Delta ?? (retry.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is { } w ? (w < TimeSpan.Zero ? TimeSpan.Zero : w > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : w) : null;
    }

    /// <summary>The start of the body: enough to say why, never a whole page.</summary>
    private static async Task<string> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellation)
    {
        var buffer = new byte[4096];
        await using var stream = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false);
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellation).ConfigureAwait(false)) > 0)
        {
            read += n;
        }

        var text = Encoding.UTF8.GetString(buffer, 0, read).ReplaceLineEndings(" ").Trim();
        return text.Length > DetailLength ? text[..DetailLength] + "…" : text;
    }

    /// <summary>Exception messages may quote the URL, and webhook URLs carry their token.</summary>
    private string Redact(string text) =>
        options.Url.Length > 0 ? text.Replace(options.Url, AlertChannelOptions.Redacted(options.Url), StringComparison.Ordinal) : text;
}
