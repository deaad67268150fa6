using System.Diagnostics;
using System.Text;
using System.Text.Json;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Alerts.Channels;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Exporters.Tests.Alerts;

/// <summary>
/// Every channel against a real HTTP server playing its service by contract: what arrives, field by field, within
/// the service's limits, and how each answer (success, 429, 5xx, 4xx, no answer) is read.
/// </summary>
public sealed class AlertChannelTests : IAsyncLifetime
{
    private readonly ServiceDouble _service = new();
    private readonly HttpClient _http = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task Slack_Opened_BlockKitWithEscapedFallbackAndSeverityColour()
    {
        var channel = new SlackChannel(AlertSamples.Channel("slack", _service.Url("/slack/T0/B0/secret")), _http);
        var incident = AlertSamples.Incident() with { Interface = "<!channel> & co", Exporter = "192.0.2.1" };
        using var message = AlertSamples.Message(AlertEventKind.Opened, incident);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Sent, answer.Outcome);
        Assert.Equal("HTTP 200 ok", answer.Detail);
        var body = Assert.Single(_service.To("/slack/")).Json();
        Assert.Equal("Incident 42 opened · DNS amplification · 94 % · 203.0.113.10", body.GetProperty("text").GetString());
        var header = body.GetProperty("blocks")[0];
        Assert.Equal("header", header.GetProperty("type").GetString());
        Assert.Equal("plain_text", header.GetProperty("text").GetProperty("type").GetString());
        var attachment = body.GetProperty("attachments")[0];
        Assert.Equal("#E8590C", attachment.GetProperty("color").GetString());
        var fields = attachment.GetProperty("blocks")[0].GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("text").GetString()!).ToList();
        Assert.Contains("*Severity*\nhigh", fields);
        Assert.Contains("*Peak*\n1.3 Mpps, 9.8 Gbit/s", fields);
        Assert.Contains("*Interface*\n&lt;!channel&gt; &amp; co", fields);
        Assert.DoesNotContain(fields, f => f.Contains("<!channel>", StringComparison.Ordinal));
        Assert.Contains(fields, f => f.StartsWith("*Mitigation*\nnftables applied: ip daddr 203.0.113.10 udp sport 53 drop", StringComparison.Ordinal));
        var link = attachment.GetProperty("blocks")[1].GetProperty("elements")[0].GetProperty("text").GetString();
        Assert.Equal("<https://collector.example.net/api/incidents?id=42|Incident 42 in the collector's API>", link);
    }

    [Fact]
    public async Task Discord_HugeIncident_OneEmbedWithinEveryLimit()
    {
        var channel = new DiscordChannel(AlertSamples.Channel("discord", _service.Url("/discord/1/token")), _http);
        var incident = AlertSamples.Incident() with
        {
            Interface = new string('i', 3000),
            Exporter = new string('e', 3000),
            TopSourcePorts = [.. Enumerable.Range(1, 40).Select(p => new PortRate("udp", p, 1000))],
        };
        var actions = Enumerable.Range(1, 30).Select(i => AlertSamples.Action() with { Id = i, Rule = new string('r', 200) }).ToList();
        using var message = AlertSamples.Message(AlertEventKind.Escalated, incident, actions);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        // The double refuses (400, Invalid Form Body) whatever breaks a limit, as Discord does.
        Assert.Equal(DeliveryOutcome.Sent, answer.Outcome);
        var embed = Assert.Single(_service.To("/discord/")).Json().GetProperty("embeds")[0];
        Assert.Equal("Incident 42 escalated to high · DNS amplification · 94 % · 203.0.113.10", embed.GetProperty("title").GetString());
        Assert.Equal(0xE8590C, embed.GetProperty("color").GetInt32());
        Assert.Equal("2026-12-04T09:30:02.000Z", embed.GetProperty("timestamp").GetString());
        Assert.Equal("https://collector.example.net/api/incidents?id=42", embed.GetProperty("url").GetString());
        var fields = embed.GetProperty("fields").EnumerateArray().ToList();
        Assert.InRange(fields.Count, 3, 25);
        Assert.All(fields, f => Assert.InRange(f.GetProperty("value").GetString()!.Length, 1, 1024));
        Assert.Equal("Severity", fields[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Discord_429WithRetryAfterInBody_RetriesAfterWhatItSaid()
    {
        _service.Script("/discord/", new Reply(429, "{\"message\": \"You are being rate limited.\", \"retry_after\": 1.5, \"global\": false}"));
        var channel = new DiscordChannel(AlertSamples.Channel("discord", _service.Url("/discord/1/token")), _http);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Retry, answer.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(1.5), answer.RetryAfter);
    }

    [Fact]
    public async Task PagerDuty_OpenedThenResolved_TriggerAndResolveOnOneDedupKey()
    {
        var options = AlertSamples.Channel("pagerduty", _service.Url(string.Empty));
        var channel = new PagerDutyChannel(options, _http, "R0UT1NGKEY0123456789ABCDEFGHIJKL");
        using var opened = AlertSamples.Message(AlertEventKind.Opened, AlertSamples.Incident(severity: Severity.Critical));
        using var resolved = AlertSamples.Message(AlertEventKind.Resolved, AlertSamples.Incident(severity: Severity.Critical, closed: AlertSamples.Opened.AddMinutes(3)));

        Assert.Equal(DeliveryOutcome.Sent, (await channel.SendAsync(opened, TestContext.Current.CancellationToken)).Outcome);
        Assert.Equal(DeliveryOutcome.Sent, (await channel.SendAsync(resolved, TestContext.Current.CancellationToken)).Outcome);

        var sent = _service.To("/v2/enqueue").Select(r => r.Json()).ToList();
        Assert.Equal(2, sent.Count);
        Assert.Equal("trigger", sent[0].GetProperty("event_action").GetString());
        Assert.Equal("resolve", sent[1].GetProperty("event_action").GetString());
        Assert.Equal("flowcollector/edge-1/incident/42", sent[0].GetProperty("dedup_key").GetString());
        Assert.Equal(sent[0].GetProperty("dedup_key").GetString(), sent[1].GetProperty("dedup_key").GetString());
        Assert.Equal("R0UT1NGKEY0123456789ABCDEFGHIJKL", sent[1].GetProperty("routing_key").GetString());
        var payload = sent[0].GetProperty("payload");
        Assert.Equal("critical", payload.GetProperty("severity").GetString());
        Assert.Equal("edge-1", payload.GetProperty("source").GetString());
        Assert.Equal("203.0.113.10", payload.GetProperty("component").GetString());
        Assert.Equal("dns_amplification", payload.GetProperty("class").GetString());
        Assert.Equal("2026-12-04T09:30:00.000Z", payload.GetProperty("timestamp").GetString());
        Assert.Equal(1_250_000, payload.GetProperty("custom_details").GetProperty("incident").GetProperty("peakPps").GetDouble());
        Assert.Equal("nftables", payload.GetProperty("custom_details").GetProperty("actions")[0].GetProperty("kind").GetString());
    }

    [Theory]
    [InlineData(Severity.Critical, "critical")]
    [InlineData(Severity.High, "error")]
    [InlineData(Severity.Medium, "warning")]
    [InlineData(Severity.Low, "info")]
    public void PagerDuty_Severity_MapsToItsFourLevels(Severity severity, string expected) =>
        Assert.Equal(expected, PagerDutyChannel.SeverityOf(AttackNames.Name(severity)));

    [Fact]
    public async Task PagerDuty_RefusedEvent_FailsWithoutRetry()
    {
        var channel = new PagerDutyChannel(AlertSamples.Channel("pagerduty", _service.Url(string.Empty)), _http, string.Empty);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Failed, answer.Outcome);
        Assert.Contains("HTTP 400", answer.Detail, StringComparison.Ordinal);
        Assert.Contains("routing_key", answer.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Teams_Opened_AdaptiveCardInAMessageAttachment()
    {
        var channel = new TeamsChannel(AlertSamples.Channel("teams", _service.Url("/teams/workflows/abc?sig=secret")), _http);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Sent, answer.Outcome);
        var body = Assert.Single(_service.To("/teams/")).Json();
        Assert.Equal("message", body.GetProperty("type").GetString());
        var attachment = body.GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
        var card = attachment.GetProperty("content");
        Assert.Equal("AdaptiveCard", card.GetProperty("type").GetString());
        Assert.Equal("1.4", card.GetProperty("version").GetString());
        Assert.Equal("Incident 42 opened · DNS amplification · 94 % · 203.0.113.10", card.GetProperty("body")[0].GetProperty("text").GetString());
        Assert.Equal("Attention", card.GetProperty("body")[0].GetProperty("color").GetString());
        var facts = card.GetProperty("body")[1].GetProperty("facts").EnumerateArray().ToDictionary(f => f.GetProperty("title").GetString()!, f => f.GetProperty("value").GetString()!);
        Assert.Equal("edge-1", facts["Node"]);
        Assert.Equal("Action.OpenUrl", card.GetProperty("actions")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Telegram_HostileAndHugeText_EscapedHtmlWithin4096()
    {
        var options = AlertSamples.Channel("telegram", _service.Url(string.Empty));
        options.ChatId = "-1001234567890";
        var channel = new TelegramChannel(options, _http, "123456:ABC-token");
        var incident = AlertSamples.Incident() with { Interface = "<script>alert(1)</script> & " + new string('x', 900), Exporter = new string('<', 900) };
        var actions = Enumerable.Range(1, 40).Select(i => AlertSamples.Action() with { Id = i, Rule = "<b>" + new string('r', 150) }).ToList();
        using var message = AlertSamples.Message(AlertEventKind.Opened, incident, actions);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        // The double parses the HTML as Telegram does: unbalanced or unknown tags, or more than 4,096 characters, are refused.
        Assert.Equal(DeliveryOutcome.Sent, answer.Outcome);
        var request = Assert.Single(_service.Requests);
        Assert.Equal("/bot123456:ABC-token/sendMessage", request.Path);
        var body = request.Json();
        Assert.Equal("-1001234567890", body.GetProperty("chat_id").GetString());
        Assert.Equal("HTML", body.GetProperty("parse_mode").GetString());
        var text = body.GetProperty("text").GetString()!;
        Assert.StartsWith("<b>Incident 42 opened · DNS amplification · 94 % · 203.0.113.10</b>", text, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; ", text, StringComparison.Ordinal);
        Assert.InRange(text.Length, 1, TelegramChannel.TextLength);
    }

    [Fact]
    public async Task Telegram_429_RetryAfterFromParameters()
    {
        _service.Script("/bot", new Reply(429, "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 7\",\"parameters\":{\"retry_after\":7}}"));
        var options = AlertSamples.Channel("telegram", _service.Url(string.Empty));
        options.ChatId = "42";
        var channel = new TelegramChannel(options, _http, "1:t");
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Retry, answer.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(7), answer.RetryAfter);
    }

    [Fact]
    public async Task Alertmanager_FiringThenResolved_EndsAtAheadThenAtTheClose()
    {
        var time = new FakeTimeProvider(AlertSamples.Opened.AddSeconds(10));
        var options = AlertSamples.Channel("alertmanager", _service.Url("/am"));
        var channel = new AlertmanagerChannel(options, _http, time);
        using var firing = AlertSamples.Message(AlertEventKind.Opened);
        using var resolved = AlertSamples.Message(AlertEventKind.Resolved, AlertSamples.Incident(closed: AlertSamples.Opened.AddMinutes(2)));

        await channel.SendAsync(firing, TestContext.Current.CancellationToken);
        await channel.SendAsync(resolved, TestContext.Current.CancellationToken);

        var sent = _service.To("/am/api/v2/alerts").Select(r => r.Json()[0]).ToList();
        Assert.Equal(2, sent.Count);
        var labels = sent[0].GetProperty("labels");
        Assert.Equal("FlowCollectorIncident", labels.GetProperty("alertname").GetString());
        Assert.Equal("42", labels.GetProperty("incident").GetString());
        Assert.Equal("high", labels.GetProperty("severity").GetString());
        Assert.Equal("edge-1", labels.GetProperty("node").GetString());
        Assert.Equal("2026-12-04T09:30:00.000Z", sent[0].GetProperty("startsAt").GetString());
        Assert.Equal("2026-12-04T09:34:10.000Z", sent[0].GetProperty("endsAt").GetString());
        Assert.Equal("2026-12-04T09:32:00.000Z", sent[1].GetProperty("endsAt").GetString());
        Assert.Equal(TimeSpan.FromSeconds(60), channel.Repeat);

        // Severity is a label, so the incident's lower severities are ended with every post: one firing alert per incident.
        var all = _service.To("/am/api/v2/alerts")[0].Json().EnumerateArray().ToList();
        Assert.Equal(["high", "low", "medium"], all.Select(a => a.GetProperty("labels").GetProperty("severity").GetString()));
        Assert.All(all.Skip(1), a => Assert.Equal("2026-12-04T09:30:10.000Z", a.GetProperty("endsAt").GetString()));
        Assert.Equal("dns_amplification", all[0].GetProperty("annotations").GetProperty("attack_type").GetString());
    }

    [Fact]
    public async Task Webhook_Signed_BothSignaturesVerifyWithPythonsHmac()
    {
        Prerequisites.Require(File.Exists("/usr/bin/python3"), "python3 is not installed");
        var secret = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("a shared secret of 32 bytes!!!!!"));
        var time = new FakeTimeProvider(AlertSamples.Opened);
        var channel = new WebhookChannel(AlertSamples.Channel("webhook", _service.Url("/hook/incidents")), _http, secret, time);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        Assert.Equal(DeliveryOutcome.Sent, (await channel.SendAsync(message, TestContext.Current.CancellationToken)).Outcome);

        var request = Assert.Single(_service.To("/hook/"));
        Assert.Equal(message.Json, request.Body);
        Assert.Equal(message.Id, request.Header("webhook-id"));
        Assert.Equal(AlertSamples.Opened.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header("webhook-timestamp"));
        Assert.StartsWith("v1,", request.Header("webhook-signature"), StringComparison.Ordinal);
        Assert.StartsWith("sha256=", request.Header("x-hub-signature-256"), StringComparison.Ordinal);

        // An implementation that is not ours: Python's hmac, fed what the receiver got.
        var bodyFile = Path.GetTempFileName();
        await File.WriteAllBytesAsync(bodyFile, request.Body, TestContext.Current.CancellationToken);
        try
        {
            var script = """
                import base64, hashlib, hmac, sys
                secret, msg_id, ts, standard, hub, path = sys.argv[1:]
                key = base64.b64decode(secret[len("whsec_"):])
                body = open(path, "rb").read()
                expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
                ok_standard = any(hmac.compare_digest(s.split(",", 1)[1], expected) for s in standard.split(" ") if s.startswith("v1,"))
                ok_hub = hmac.compare_digest(hub, "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest())
                print("standard", ok_standard, "hub", ok_hub)
                sys.exit(0 if ok_standard and ok_hub else 1)
                """;
            var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-c", script, secret, request.Header("webhook-id"), request.Header("webhook-timestamp"), request.Header("webhook-signature"), request.Header("x-hub-signature-256"), bodyFile })
            {
                start.ArgumentList.Add(argument);
            }

            using var python = Process.Start(start)!;
            var said = await python.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken) + await python.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await python.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.True(python.ExitCode == 0, said);
            Assert.Equal("standard True hub True", said.Trim());
        }
        finally
        {
            File.Delete(bodyFile);
        }
    }

    [Fact]
    public async Task Webhook_TamperedBody_SignatureNoLongerMatches()
    {
        var key = WebhookChannel.Key("plain-secret");
        var body = Encoding.UTF8.GetBytes("{\"event\":\"opened\"}");
        var signature = WebhookChannel.StandardSignature(key, "evt_1", 1_700_000_000, body);

        Assert.Equal(signature, WebhookChannel.StandardSignature(key, "evt_1", 1_700_000_000, body));
        Assert.NotEqual(signature, WebhookChannel.StandardSignature(key, "evt_1", 1_700_000_000, Encoding.UTF8.GetBytes("{\"event\":\"resolved\"}")));
        Assert.NotEqual(signature, WebhookChannel.StandardSignature(key, "evt_1", 1_700_000_001, body));
        Assert.NotEqual(WebhookChannel.HubSignature(key, body), WebhookChannel.HubSignature(WebhookChannel.Key("other"), body));
    }

    [Theory]
    [InlineData(500, DeliveryOutcome.Retry)]
    [InlineData(503, DeliveryOutcome.Retry)]
    [InlineData(408, DeliveryOutcome.Retry)]
    [InlineData(404, DeliveryOutcome.Failed)]
    [InlineData(403, DeliveryOutcome.Failed)]
    public async Task Webhook_ErrorStatus_RetriedOnlyWhenItMayPass(int status, DeliveryOutcome expected)
    {
        _service.Script("/hook/", new Reply(status, "no"));
        var channel = new WebhookChannel(AlertSamples.Channel("webhook", _service.Url("/hook/x")), _http, string.Empty, TimeProvider.System);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(expected, answer.Outcome);
        Assert.Equal($"HTTP {status} no", answer.Detail);
        Assert.True(string.IsNullOrEmpty(_service.Requests[0].Header("webhook-signature")), "no secret, no signature");
    }

    [Fact]
    public async Task Webhook_429WithRetryAfterHeader_RetryAfterTaken()
    {
        _service.Script("/hook/", new Reply(429, "slow down", new Dictionary<string, string> { ["Retry-After"] = "3" }));
        var channel = new WebhookChannel(AlertSamples.Channel("webhook", _service.Url("/hook/x")), _http, string.Empty, TimeProvider.System);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Retry, answer.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(3), answer.RetryAfter);
    }

    [Fact]
    public async Task Webhook_ServiceNeverAnswers_RetryAfterTheTimeout()
    {
        _service.Script("/hook/", Reply.Hanging);
        var channel = new WebhookChannel(AlertSamples.Channel("webhook", _service.Url("/hook/x")), _http, string.Empty, TimeProvider.System);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Retry, answer.Outcome);
        Assert.Equal("no answer within 2 s", answer.Detail);
    }

    [Fact]
    public async Task Webhook_NothingListening_RetryWithTheReason()
    {
        var port = _service.Port;
        await _service.DisposeAsync();
        var channel = new WebhookChannel(AlertSamples.Channel("webhook", $"http://127.0.0.1:{port}/hook/x"), _http, string.Empty, TimeProvider.System);
        using var message = AlertSamples.Message(AlertEventKind.Opened);

        var answer = await channel.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(DeliveryOutcome.Retry, answer.Outcome);
        Assert.Contains("refused", answer.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Script_ReadsTheEventOnStdin_ExitZeroIsSent()
    {
        var output = Path.GetTempFileName();
        try
        {
            var options = new AlertChannelOptions { Name = "script", Type = "script", Command = "/bin/sh", Arguments = ["-c", $"cat > {output}; echo \"$FLOWCOLLECTOR_EVENT $FLOWCOLLECTOR_INCIDENT_ID $FLOWCOLLECTOR_SEVERITY\" >> {output}.env"], TimeoutSeconds = 5 };
            using var message = AlertSamples.Message(AlertEventKind.Opened);

            var answer = await new ScriptChannel(options).SendAsync(message, TestContext.Current.CancellationToken);

            Assert.Equal(DeliveryOutcome.Sent, answer.Outcome);
            Assert.Equal(message.Json, await File.ReadAllBytesAsync(output, TestContext.Current.CancellationToken));
            Assert.Equal("opened 42 high", (await File.ReadAllTextAsync(output + ".env", TestContext.Current.CancellationToken)).Trim());
        }
        finally
        {
            File.Delete(output);
            File.Delete(output + ".env");
        }
    }

    [Fact]
    public async Task Script_FailsOrHangs_RetryWithStderrOrTheTimeout()
    {
        using var message = AlertSamples.Message(AlertEventKind.Opened);
        var failing = new AlertChannelOptions { Name = "s", Type = "script", Command = "/bin/sh", Arguments = ["-c", "cat >/dev/null; echo 'relay down' >&2; exit 3"], TimeoutSeconds = 5 };
        var hanging = new AlertChannelOptions { Name = "s", Type = "script", Command = "/bin/sh", Arguments = ["-c", "sleep 30"], TimeoutSeconds = 1 };

        var failed = await new ScriptChannel(failing).SendAsync(message, TestContext.Current.CancellationToken);
        var hung = await new ScriptChannel(hanging).SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(new DeliveryAnswer(DeliveryOutcome.Retry, "exit 3: relay down"), failed);
        Assert.Equal(new DeliveryAnswer(DeliveryOutcome.Retry, "/bin/sh did not exit within 1 s; killed"), hung);
    }

    [Fact]
    public void EventDocument_SchemaOneWithTheIncidentAsTheApiServesIt()
    {
        var incident = AlertSamples.Incident();
        var document = new AlertEvent(AlertEventKind.Mitigated, "evt_1", AlertSamples.Opened, "edge-1", incident, [AlertSamples.Action()], null).ToJson();

        var root = JsonDocument.Parse(document).RootElement;
        Assert.Equal(["schema", "event", "id", "at", "node", "incident", "actions"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, root.GetProperty("schema").GetInt32());
        Assert.Equal("mitigated", root.GetProperty("event").GetString());
        Assert.Equal(FlowCollector.Exporters.Storage.IncidentJson.Line(incident), root.GetProperty("incident").GetRawText());
        Assert.Equal(FlowCollector.Exporters.Storage.MitigationJson.Line(AlertSamples.Action()), root.GetProperty("actions")[0].GetRawText());
    }
}
