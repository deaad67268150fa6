using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FlowCollector.Tests.Support;

/// <summary>What a service double received: one request, as it arrived.</summary>
internal sealed record Received(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTime At)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public JsonElement Json() => JsonDocument.Parse(Body).RootElement.Clone();

    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : string.Empty;
}

/// <summary>An answer a test scripts for the next request to a path: a status, a body, headers, or no answer at all.</summary>
internal sealed record Reply(int Status, string Body = "", IReadOnlyDictionary<string, string>? Headers = null, bool Hang = false)
{
    public static Reply Hanging => new(0, Hang: true);
}

/// <summary>
/// A real HTTP server on loopback that plays the services alerts go to, each by its documented contract: the paths
/// they answer, the shapes and limits they check (refusing with their own error answers what breaks them), and
/// their success answers (Slack's "ok", Discord's 204, PagerDuty's 202 with status success, Teams' 202, Telegram's
/// "ok": true). Tests script 429s, 500s and hangs per path, and read back every request with the time its body
/// arrived.
/// </summary>
internal sealed partial class ServiceDouble : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<Reply>> _scripted = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public ServiceDouble()
    {
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // Another process took the port between the probe and the bind: try another.
            }
        }

        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    public IReadOnlyList<Received> Requests => [.. _received];

    /// <summary>The next request whose path starts with <paramref name="pathPrefix"/> gets the next of <paramref name="replies"/> instead of the service's usual answer.</summary>
    public void Script(string pathPrefix, params Reply[] replies)
    {
        var queue = _scripted.GetOrAdd(pathPrefix, _ => new ConcurrentQueue<Reply>());
        foreach (var reply in replies)
        {
            queue.Enqueue(reply);
        }
    }

    public IReadOnlyList<Received> To(string pathPrefix) => [.. _received.Where(r => r.Path.StartsWith(pathPrefix, StringComparison.Ordinal))];

    public async Task<IReadOnlyList<Received>> WaitForAsync(string pathPrefix, int count, double seconds = 30)
    {
        await Eventually.True(() => Task.FromResult(To(pathPrefix).Count >= count), $"{count} request(s) to {pathPrefix}", seconds, 20);
        return To(pathPrefix);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.InputStream.CopyToAsync(body);
        var headers = request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!.ToLowerInvariant(), k => request.Headers[k] ?? string.Empty);
        var received = new Received(request.HttpMethod, request.Url!.PathAndQuery, headers, body.ToArray(), DateTime.UtcNow);
        _received.Enqueue(received);
        var reply = Scripted(received.Path) ?? Contract(received);
        if (reply.Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            context.Response.Abort();
            return;
        }

        try
        {
            context.Response.StatusCode = reply.Status;
            foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
            {
                context.Response.Headers[name] = value;
            }

            var bytes = Encoding.UTF8.GetBytes(reply.Body);
            if (reply.Body.StartsWith('{') || reply.Body.StartsWith('['))
            {
                context.Response.ContentType = "application/json";
            }

            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
        {
            // The client gave up (its timeout): nothing to answer.
        }
    }

    private Reply? Scripted(string path)
    {
        foreach (var (prefix, queue) in _scripted)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal) && queue.TryDequeue(out var reply))
            {
                return reply;
            }
        }

        return null;
    }

    /// <summary>The service's answer by its documented contract, refusing what breaks it as the service would.</summary>
    private static Reply Contract(Received request)
    {
        if (request.Method != "POST")
        {
            return new Reply(405, "method not allowed");
        }

        JsonElement json;
        try
        {
            json = request.Json();
        }
        catch (JsonException)
        {
            return new Reply(400, "invalid_payload");
        }

        return request.Path switch
        {
            var p when p.StartsWith("/slack/", StringComparison.Ordinal) => Slack(json),
            var p when p.StartsWith("/discord/", StringComparison.Ordinal) => Discord(json),
            "/v2/enqueue" => PagerDuty(json),
            var p when p.StartsWith("/teams/", StringComparison.Ordinal) => Teams(json),
            var p when TelegramPath().IsMatch(p) => Telegram(json),
            _ => new Reply(200, "{\"received\":true}"),
        };
    }

    /// <summary>Slack: text or blocks required; a header's text at most 150 characters; attachments' colours are hex.</summary>
    private static Reply Slack(JsonElement json)
    {
        var hasText = json.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 };
        if (!hasText && !json.TryGetProperty("blocks", out _))
        {
            return new Reply(400, "no_text");
        }

        foreach (var block in Blocks(json))
        {
            if (block.GetProperty("type").GetString() == "header" && block.GetProperty("text").GetProperty("text").GetString()!.Length > 150)
            {
                return new Reply(400, "invalid_blocks");
            }

            if (block.TryGetProperty("fields", out var fields) && (fields.GetArrayLength() > 10 || fields.EnumerateArray().Any(f => f.GetProperty("text").GetString()!.Length > 2000)))
            {
                return new Reply(400, "invalid_blocks");
            }
        }

        return new Reply(200, "ok");
    }

    private static IEnumerable<JsonElement> Blocks(JsonElement json)
    {
        var top = json.TryGetProperty("blocks", out var blocks) ? blocks.EnumerateArray().ToList() : [];
        var attached = json.TryGetProperty("attachments", out var attachments)
            ? attachments.EnumerateArray().SelectMany(a => a.TryGetProperty("blocks", out var b) ? b.EnumerateArray() : Enumerable.Empty<JsonElement>())
            : [];
        return top.Concat(attached);
    }

    /// <summary>Discord: the embed limits (title 256, description 4,096, 25 fields of 256/1,024, footer 2,048, 6,000 in all).</summary>
    private static Reply Discord(JsonElement json)
    {
        const string invalid = "{\"code\": 50035, \"message\": \"Invalid Form Body\"}";
        if (!json.TryGetProperty("embeds", out var embeds) && !json.TryGetProperty("content", out _))
        {
            return new Reply(400, "{\"code\": 50006, \"message\": \"Cannot send an empty message\"}");
        }

        var total = 0;
        foreach (var embed in embeds.EnumerateArray())
        {
            var title = Length(embed, "title");
            var description = Length(embed, "description");
            var footer = embed.TryGetProperty("footer", out var f) ? Length(f, "text") : 0;
            var fields = embed.TryGetProperty("fields", out var list) ? list.EnumerateArray().ToList() : [];
            if (title > 256 || description > 4096 || footer > 2048 || fields.Count > 25 || fields.Any(x => Length(x, "name") > 256 || Length(x, "value") > 1024 || Length(x, "value") == 0))
            {
                return new Reply(400, invalid);
            }

            total += title + description + footer + fields.Sum(x => Length(x, "name") + Length(x, "value"));
        }

        return total > 6000 ? new Reply(400, invalid) : new Reply(204);
    }

    /// <summary>PagerDuty Events API v2: routing key, a known action, a dedup key of at most 255, a trigger's summary, source and severity.</summary>
    private static Reply PagerDuty(JsonElement json)
    {
        var errors = new List<string>();
        if (Length(json, "routing_key") == 0)
        {
            errors.Add("'routing_key' is missing or blank");
        }

        var action = json.TryGetProperty("event_action", out var a) ? a.GetString() : null;
        if (action is not ("trigger" or "acknowledge" or "resolve"))
        {
            errors.Add("'event_action' is invalid");
        }

        if (Length(json, "dedup_key") > 255 || (action != "trigger" && Length(json, "dedup_key") == 0))
        {
            errors.Add("'dedup_key' is invalid");
        }

        if (action == "trigger")
        {
            if (!json.TryGetProperty("payload", out var payload))
            {
                errors.Add("'payload' is missing");
            }
            else
            {
                if (Length(payload, "summary") is 0 or > 1024)
                {
                    errors.Add("'payload.summary' is invalid");
                }

                if (Length(payload, "source") == 0)
                {
                    errors.Add("'payload.source' is missing");
                }

                if (!(payload.TryGetProperty("severity", out var severity) && severity.GetString() is "critical" or "error" or "warning" or "info"))
                {
                    errors.Add("'payload.severity' is invalid");
                }
            }
        }

        return errors.Count > 0
            ? new Reply(400, JsonSerializer.Serialize(new Dictionary<string, object> { ["status"] = "invalid event", ["message"] = "Event object is invalid", ["errors"] = errors }))
            : new Reply(202, $"{{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":{JsonSerializer.Serialize(json.TryGetProperty("dedup_key", out var key) ? key.GetString() : "generated")}}}");
    }

    /// <summary>Teams Workflows: a message whose attachment is an Adaptive Card.</summary>
    private static Reply Teams(JsonElement json)
    {
        var valid = json.TryGetProperty("type", out var type) && type.GetString() == "message"
            && json.TryGetProperty("attachments", out var attachments) && attachments.GetArrayLength() > 0
            && attachments[0].GetProperty("contentType").GetString() == "application/vnd.microsoft.card.adaptive"
            && attachments[0].GetProperty("content").GetProperty("type").GetString() == "AdaptiveCard";
        return valid ? new Reply(202) : new Reply(400, "{\"error\":{\"code\":\"InvalidRequestContent\",\"message\":\"The input body for trigger 'manual' of type 'Request' did not match its schema definition.\"}}");
    }

    /// <summary>Telegram sendMessage: a chat, a text of 1 to 4,096 characters after its HTML is parsed, well-formed HTML.</summary>
    private static Reply Telegram(JsonElement json)
    {
        static Reply Bad(string description) => new(400, $"{{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: {description}\"}}");
        if (Length(json, "chat_id") == 0)
        {
            return Bad("chat not found");
        }

        var text = json.TryGetProperty("text", out var t) ? t.GetString() ?? string.Empty : string.Empty;
        var visible = WebUtility.HtmlDecode(HtmlTag().Replace(text, string.Empty));
        if (visible.Length == 0)
        {
            return Bad("message text is empty");
        }

        if (visible.Length > 4096)
        {
            return Bad("message is too long");
        }

        var opened = HtmlTag().Matches(text).Count(m => !m.Value.StartsWith("</", StringComparison.Ordinal));
        var closed = HtmlTag().Matches(text).Count(m => m.Value.StartsWith("</", StringComparison.Ordinal));
        if (opened != closed || Regex.IsMatch(text, "<(?!/?(b|a)[ >])", RegexOptions.None, TimeSpan.FromSeconds(1)))
        {
            return Bad("can't parse entities: unsupported start tag");
        }

        return new Reply(200, "{\"ok\":true,\"result\":{\"message_id\":1,\"chat\":{\"id\":-1001},\"date\":0}}");
    }

    private static int Length(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()!.Length : 0;

    [GeneratedRegex("^/bot[^/]+/sendMessage$")]
    private static partial Regex TelegramPath();

    [GeneratedRegex("</?[a-z]+[^>]*>")]
    private static partial Regex HtmlTag();
}
