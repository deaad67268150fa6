using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Alerts;

/// <summary>
/// A real collector under a NetFlow attack, with every kind of channel configured: seven go to a loopback server
/// playing Slack, Discord, PagerDuty, Teams, Telegram and a signed webhook by their contracts, plus a script; the
/// Alertmanager channel goes to a real prometheus-alertmanager. Then kill -9 in the middle of a delivery.
/// </summary>
public sealed class AlertsEndToEndTests
{
    private const string Victim = "203.0.113.10";
    private const string WebhookSecret = "whsec_c2VjcmV0LXNoYXJlZC13aXRoLXRoZS1yZWNlaXZlcg==";
    private volatile bool _flood;

    private static readonly string[] Settings =
    [
        "--node", "edge-1", "--monitor", "203.0.113.0/24", "--learning-seconds", "3", "--set", "ProcNetDev:Mode=off", "--set", "Detection:CooldownSeconds=4",
    ];

    private List<Flow> Traffic() => NetFlowV5Sender.DnsAmplificationOn(Victim, _flood);

    [Fact]
    public async Task Attack_EveryChannelToldOpenedThenResolved()
    {
        Flowcollector.Require(File.Exists("/usr/bin/prometheus-alertmanager"), "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)");
        await using var service = new ServiceDouble();
        await using var exporter = new ExporterRun("flowcollector-alerts-", Traffic);
        using var alertmanager = Alertmanager.Start(exporter.Data.FullName, service.Url("/am-receiver"));
        var scriptLog = Path.Combine(exporter.Data.FullName, "script-events.jsonl");
        var tokenFile = Path.Combine(exporter.Data.FullName, "telegram.token");
        await File.WriteAllTextAsync(tokenFile, "123456:TEST-token\n", TestContext.Current.CancellationToken);
        var config = WriteConfig(exporter.Data.FullName, new Dictionary<string, object>[]
        {
            new() { ["Name"] = "slack", ["Type"] = "slack", ["Url"] = service.Url("/slack/T000/B000/XXXX") },
            new() { ["Name"] = "discord", ["Type"] = "discord", ["Url"] = service.Url("/discord/1/token") },
            new() { ["Name"] = "pagerduty", ["Type"] = "pagerduty", ["Url"] = service.Url(string.Empty), ["RoutingKey"] = "R0UT1NGKEY0123456789ABCDEFGHIJKL" },
            new() { ["Name"] = "teams", ["Type"] = "teams", ["Url"] = service.Url("/teams/workflows/1?sig=secret") },
            new() { ["Name"] = "telegram", ["Type"] = "telegram", ["Url"] = service.Url(string.Empty), ["SecretFile"] = tokenFile, ["ChatId"] = "-1001234567890" },
            new() { ["Name"] = "alertmanager", ["Type"] = "alertmanager", ["Url"] = alertmanager.Url },
            new() { ["Name"] = "webhook", ["Type"] = "webhook", ["Url"] = service.Url("/hook/ops"), ["Secret"] = WebhookSecret },
            new() { ["Name"] = "script", ["Type"] = "script", ["Command"] = "/bin/sh", ["Arguments"] = new[] { "-c", $"cat >> {scriptLog}; echo >> {scriptLog}" } },
        });
        await using var collector = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, [.. Settings, "--config", config]);
        await collector.WaitForCalibratedAsync();

        _flood = true;
        var opened = await Eventually.Until(() => Title(service, "/slack/", "opened"), "Slack told of the incident");
        var id = long.Parse(opened.Split(' ')[1], CultureInfo.InvariantCulture);
        await WaitForEveryChannelAsync(service, scriptLog, id, "opened", "firing");
        Assert.Equal(JsonValueKind.String, (await alertmanager.ActiveAsync(id))?.GetProperty("status").GetProperty("state").ValueKind);

        _flood = false;
        await WaitForEveryChannelAsync(service, scriptLog, id, "resolved", "resolved");
        var stillActive = await Eventually.Within(async () => await alertmanager.ActiveAsync(id) is null);
        Assert.True(stillActive, $"Alertmanager still holds the alert as active: {await alertmanager.ActiveAsync(id)}\n{string.Join("\n", service.To("/am-receiver").Select(r => r.Text))}");

        // The PagerDuty alert is triggered and resolved on one key; the webhook is signed.
        var pagerduty = service.To("/v2/enqueue").Select(r => r.Json()).Where(j => j.GetProperty("dedup_key").GetString() == $"flowcollector/edge-1/incident/{id}").ToList();
        Assert.Equal("trigger", pagerduty[0].GetProperty("event_action").GetString());
        Assert.Equal("resolve", pagerduty[^1].GetProperty("event_action").GetString());
        var hook = service.To("/hook/ops").First(r => r.Json().GetProperty("incident").GetProperty("id").GetInt64() == id);
        Assert.StartsWith("v1,", hook.Header("webhook-signature"), StringComparison.Ordinal);

        // The same document everywhere: the webhook's body is what the API serves for its delivery.
        Assert.Equal(hook.Text, await collector.GetAsync($"/api/alerts?id={hook.Header("webhook-id")}"));
        using var unknown = await collector.Client.GetAsync(new Uri("/api/alerts?id=evt_unknown", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);

        // What was delivered is listed, through the API and the metrics (marked sent once the answer is read).
        string[] channels = ["slack", "discord", "pagerduty", "teams", "telegram", "alertmanager", "webhook", "script"];
        await Eventually.True(
            async () =>
            {
                var deliveries = JsonDocument.Parse(await collector.GetAsync("/api/alerts")).RootElement.EnumerateArray().Where(d => d.GetProperty("incidentId").GetInt64() == id).ToList();
                return channels.All(channel => deliveries.Any(d => d.GetProperty("channel").GetString() == channel && d.GetProperty("event").GetString() == "resolved" && d.GetProperty("state").GetString() == "sent"));
            },
            "every channel's resolved listed as sent by /api/alerts");

        Assert.True(await collector.MetricAsync("flowcollector_alerts_total", ("channel", "telegram"), ("event", "resolved"), ("outcome", "sent")) >= 1);
        await Eventually.True(async () => await collector.MetricAsync("flowcollector_alert_queue_depth") == 0, "the outbox emptied (Slack's pace is one a second)");
        Assert.DoesNotContain("TEST-token", collector.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill9MidDelivery_UnacknowledgedSentAgainUnderItsIdAndNothingAcknowledgedTwice()
    {
        await using var service = new ServiceDouble();
        await using var exporter = new ExporterRun("flowcollector-alerts-kill-", Traffic);
        service.Script("/hook/stuck", Reply.Hanging);
        var config = WriteConfig(exporter.Data.FullName, new Dictionary<string, object>[]
        {
            new() { ["Name"] = "ok", ["Type"] = "webhook", ["Url"] = service.Url("/hook/ok") },
            new() { ["Name"] = "stuck", ["Type"] = "webhook", ["Url"] = service.Url("/hook/stuck"), ["TimeoutSeconds"] = 60 },
        });
        string[] settings = [.. Settings, "--config", config];
        string hung;
        await using (var first = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, settings))
        {
            await first.WaitForCalibratedAsync();
            _flood = true;
            hung = (await service.WaitForAsync("/hook/stuck", 1))[0].Header("webhook-id");
            await Eventually.True(() => Task.FromResult(service.To("/hook/ok").Any(r => r.Header("webhook-id") == hung) is false && service.To("/hook/ok").Count > 0), "the other channel's delivery");
            await first.KillHardAsync();
        }

        var okBefore = service.To("/hook/ok").Count;
        await using var second = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, settings);

        // The request that hung was never acknowledged: it comes again, with the same id.
        await Eventually.True(() => Task.FromResult(service.To("/hook/stuck").Count(r => r.Header("webhook-id") == hung) == 2), "the hung delivery sent again");

        // Meanwhile the attack goes on and its incidents resume: nothing the ok channel acknowledged is repeated.
        await Eventually.Holds(() => Task.FromResult(NoRepeats(service.To("/hook/ok"))), "no repeat to the channel that acknowledged", seconds: 4);
        Assert.True(NoRepeats(service.To("/hook/ok")));
        Assert.True(service.To("/hook/ok").Count >= okBefore);
        Assert.Contains("deliveries pending from before", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertsTest_OneChannelDown_PrintsEachAnswerAndExitsNonZero()
    {
        await using var service = new ServiceDouble();
        var directory = Directory.CreateTempSubdirectory("flowcollector-alerts-test-");
        try
        {
            service.Script("/discord/", new Reply(404, "{\"message\": \"Unknown Webhook\", \"code\": 10015}"));
            var config = WriteConfig(directory.FullName, new Dictionary<string, object>[]
            {
                new() { ["Name"] = "slack", ["Type"] = "slack", ["Url"] = service.Url("/slack/T/B/X") },
                new() { ["Name"] = "discord", ["Type"] = "discord", ["Url"] = service.Url("/discord/1/gone") },
            });

            var (exit, output, error) = Flowcollector.Run("alerts", "test", "--config", config, "--data-dir", directory.FullName);
            Assert.Equal(69, exit);
            Assert.Contains("slack (slack): ok: HTTP 200 ok", output, StringComparison.Ordinal);
            Assert.Contains("discord (discord): FAILED: HTTP 404 {\"message\": \"Unknown Webhook\", \"code\": 10015}", output, StringComparison.Ordinal);
            Assert.Equal(string.Empty, error);
            var test = service.To("/slack/").Single().Json();
            Assert.StartsWith("Test alert from ", test.GetProperty("text").GetString(), StringComparison.Ordinal);

            (exit, output, _) = Flowcollector.Run("alerts", "test", "slack", "--config", config, "--data-dir", directory.FullName);
            Assert.Equal(0, exit);
            Assert.DoesNotContain("discord", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static bool NoRepeats(IReadOnlyList<Received> requests) =>
        requests.GroupBy(r => r.Header("webhook-id")).All(g => g.Count() == 1)
        && requests.Select(r => r.Json()).Where(j => j.GetProperty("event").GetString() == "opened").GroupBy(j => j.GetProperty("incident").GetProperty("id").GetInt64()).All(g => g.Count() == 1);

    private static string WriteConfig(string directory, Dictionary<string, object>[] channels)
    {
        var path = Path.Combine(directory, "alerts.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, object> { ["Alerts"] = new Dictionary<string, object> { ["Channels"] = channels, ["RetryBaseSeconds"] = 0.5 } }));
        return path;
    }

    /// <summary>The title of the first message to a chat-style service that says <paramref name="verb"/> about the victim.</summary>
    private static string? Title(ServiceDouble service, string path, string verb) =>
        service.To(path).Select(r => r.Json().GetProperty("text").GetString()!).FirstOrDefault(t => t.Contains($" {verb} ·", StringComparison.Ordinal) && t.EndsWith("· " + Victim, StringComparison.Ordinal));

    private static async Task WaitForEveryChannelAsync(ServiceDouble service, string scriptLog, long id, string verb, string amStatus)
    {
        var title = $"Incident {id} {verb} ·";
        bool Has(string path, Func<JsonElement, string?> text) => service.To(path).Any(r => text(r.Json()) is { } t && t.StartsWith(title, StringComparison.Ordinal));
        await Eventually.True(() => Task.FromResult(Has("/slack/", j => j.GetProperty("text").GetString())), $"Slack told {verb}");
        await Eventually.True(() => Task.FromResult(Has("/discord/", j => j.GetProperty("embeds")[0].GetProperty("title").GetString())), $"Discord told {verb}");
        await Eventually.True(() => Task.FromResult(Has("/teams/", j => j.GetProperty("attachments")[0].GetProperty("content").GetProperty("body")[0].GetProperty("text").GetString())), $"Teams told {verb}");
        await Eventually.True(() => Task.FromResult(Has("/bot123456:TEST-token/sendMessage", j => j.GetProperty("text").GetString()?.Replace("<b>", string.Empty, StringComparison.Ordinal))), $"Telegram told {verb}");
        var action = verb == "opened" ? "trigger" : "resolve";
        await Eventually.True(() => Task.FromResult(service.To("/v2/enqueue").Any(r => r.Json() is var j && j.GetProperty("event_action").GetString() == action && j.GetProperty("dedup_key").GetString()!.EndsWith($"/incident/{id}", StringComparison.Ordinal))), $"PagerDuty told {action}");
        await Eventually.True(() => Task.FromResult(service.To("/hook/ops").Any(r => r.Json() is var j && j.GetProperty("event").GetString() == verb && j.GetProperty("incident").GetProperty("id").GetInt64() == id)), $"the webhook told {verb}");
        await Eventually.True(() => Task.FromResult(File.Exists(scriptLog) && File.ReadLines(scriptLog).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).Any(j => j.GetProperty("event").GetString() == verb && j.GetProperty("incident").GetProperty("id").GetInt64() == id)), $"the script told {verb}");

        // Alertmanager's own notification to its webhook receiver says firing, then resolved.
        await Eventually.True(() => Task.FromResult(service.To("/am-receiver").Any(r => r.Json() is var j && j.GetProperty("alerts").EnumerateArray().Any(a => a.GetProperty("status").GetString() == amStatus && a.GetProperty("labels").GetProperty("incident").GetString() == id.ToString(CultureInfo.InvariantCulture)))), $"Alertmanager notifying {amStatus}");
    }

    /// <summary>A real prometheus-alertmanager on loopback, routing every alert to one webhook receiver at once.</summary>
    private sealed class Alertmanager : IDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _client;

        private Alertmanager(Process process, int port)
        {
            _process = process;
            Url = $"http://127.0.0.1:{port}";
            _client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(10) };
        }

        public string Url { get; }

        public static Alertmanager Start(string directory, string receiver)
        {
            var port = CollectorProcess.FreeTcpPort();
            var config = Path.Combine(directory, "alertmanager.yml");
            File.WriteAllText(config, $"""
                route:
                  receiver: test
                  group_by: [alertname, incident]
                  group_wait: 0s
                  group_interval: 1s
                  repeat_interval: 1h
                receivers:
                  - name: test
                    webhook_configs:
                      - url: {receiver}
                        send_resolved: true
                """);
            var storage = Directory.CreateDirectory(Path.Combine(directory, "alertmanager-data")).FullName;
            var process = Daemon.Launch(
                "/usr/bin/prometheus-alertmanager", directory, null,
                $"--config.file={config}", $"--storage.path={storage}", $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=");
            var alertmanager = new Alertmanager(process, port);
            Eventually.TrueNow(alertmanager.Ready, "Alertmanager ready");
            return alertmanager;
        }

        /// <summary>The incident's alert as Alertmanager's API lists it among active ones; null when it is not.</summary>
        public async Task<JsonElement?> ActiveAsync(long incident)
        {
            var alerts = JsonDocument.Parse(await _client.GetStringAsync(new Uri("/api/v2/alerts?active=true&silenced=false&inhibited=false", UriKind.Relative))).RootElement;
            foreach (var alert in alerts.EnumerateArray())
            {
                if (alert.GetProperty("labels").GetProperty("incident").GetString() == incident.ToString(CultureInfo.InvariantCulture) && alert.GetProperty("status").GetProperty("state").GetString() == "active")
                {
                    return alert.Clone();
                }
            }

            return null;
        }

        public void Dispose()
        {
            _client.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }

        private bool Ready()
        {
            try
            {
                return _client.GetAsync(new Uri("/-/ready", UriKind.Relative)).GetAwaiter().GetResult().IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }
    }
}
