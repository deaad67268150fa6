using System.Globalization;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Alerts.Channels;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowCollector.Exporters.Tests.Alerts;

/// <summary>
/// The dispatcher with real channels, a real outbox on disk and a real HTTP server: what each channel is told and
/// in what order, coalescing, 429 and back-off, a hanging channel beside a working one, and a restart.
/// </summary>
public sealed class AlertDispatcherTests : IAsyncLifetime
{
    private readonly ServiceDouble _service = new();
    private readonly HttpClient _http = new();
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("flowcollector-alerts-");
    private readonly List<MitigationAction> _actions = [];
    private AlertOutbox? _outbox;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        _outbox?.Dispose();
        _http.Dispose();
        await _service.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    private static AlertOptions Options(params AlertChannelOptions[] channels) => new() { Channels = [.. channels], RetryBaseSeconds = 0.2, RetryMaxSeconds = 2 };

    private AlertChannelOptions Webhook(string name) => AlertSamples.Channel("webhook", _service.Url($"/hook/{name}"), name);

    private AlertDispatcher Start(AlertOptions options)
    {
        _outbox?.Dispose();
        Assert.True(AlertOutbox.TryOpen(Path.Combine(_directory.FullName, "flowcollector.db"), out _outbox, out var error), error);
        Assert.True(AlertChannels.TryCreate(options, () => _http, TimeProvider.System, out var channels, out error), error);
        var dispatcher = new AlertDispatcher(options, channels, _outbox!, _ => [.. _actions], "edge-1", TimeProvider.System, NullLogger.Instance);
        dispatcher.Start();
        return dispatcher;
    }

    private static IncidentEvent Change(IncidentChange change, IncidentRecord incident) => new(change, incident, default);

    private static List<string> Events(IEnumerable<Received> requests) => [.. requests.Select(r => r.Json().GetProperty("event").GetString()!)];

    [Fact]
    public async Task Lifecycle_OpenedEscalatedResolved_InOrderEachWithItsOwnId()
    {
        using var dispatcher = Start(Options(Webhook("ops")));
        var incident = AlertSamples.Incident(severity: Severity.Medium);

        dispatcher.OnIncident(Change(IncidentChange.Opened, incident));
        await _service.WaitForAsync("/hook/ops", 1);
        dispatcher.OnIncident(Change(IncidentChange.Escalated, incident with { Severity = Severity.Critical }));
        await _service.WaitForAsync("/hook/ops", 2);
        dispatcher.OnIncident(Change(IncidentChange.Closed, incident with { Severity = Severity.Critical, ClosedAt = AlertSamples.Opened.AddMinutes(1) }));

        var received = await _service.WaitForAsync("/hook/ops", 3);
        Assert.Equal(["opened", "escalated", "resolved"], Events(received));
        Assert.Equal("critical", received[1].Json().GetProperty("incident").GetProperty("severity").GetString());
        Assert.Equal(3, received.Select(r => r.Header("webhook-id")).Distinct().Count());
        Assert.All(received, r => Assert.Equal(r.Header("webhook-id"), r.Json().GetProperty("id").GetString()));
        await Eventually.True(() => Task.FromResult(dispatcher.Counters.GetValueOrDefault(("ops", "resolved", "sent")) == 1), "resolved counted");
        Assert.Equal(0, dispatcher.QueueDepth);
    }

    [Fact]
    public async Task Routes_SeverityAndPrefix_EachChannelHearsItsOwn()
    {
        var options = Options(Webhook("noc"), Webhook("pager"), Webhook("customer"));
        options.Routes.Low = ["noc"];
        options.Routes.Medium = ["noc"];
        options.Routes.Critical = ["noc", "pager"];
        options.Overrides = [new AlertRouteOverride { Prefix = "198.51.100.0/24", Routes = new AlertRoutes { Critical = ["customer"] } }];
        using var dispatcher = Start(options);
        var ours = AlertSamples.Incident(id: 1, severity: Severity.Medium);
        var customers = AlertSamples.Incident(id: 2, severity: Severity.Critical, address: "198.51.100.7");

        dispatcher.OnIncident(Change(IncidentChange.Opened, ours));
        dispatcher.OnIncident(Change(IncidentChange.Opened, customers));

        // Sent before the escalation comes: an escalation of an opened event still waiting would fold into it.
        await _service.WaitForAsync("/hook/noc", 1);
        dispatcher.OnIncident(Change(IncidentChange.Escalated, ours with { Severity = Severity.Critical }));
        dispatcher.OnIncident(Change(IncidentChange.Closed, ours with { Severity = Severity.Critical, ClosedAt = AlertSamples.Opened.AddMinutes(1) }));

        // The pager heard of incident 1 only when it became critical (escalated is its opened), and its close.
        var pager = await _service.WaitForAsync("/hook/pager", 2);
        Assert.True(Events(pager) is ["escalated", "resolved"], string.Join("\n", pager.Select(r => r.Text)));
        Assert.Equal(["opened", "escalated", "resolved"], Events(await _service.WaitForAsync("/hook/noc", 3)));
        var customer = Assert.Single(await _service.WaitForAsync("/hook/customer", 1));
        Assert.Equal(2, customer.Json().GetProperty("incident").GetProperty("id").GetInt64());
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(3, _service.To("/hook/noc").Count);
        Assert.Equal(2, _service.To("/hook/pager").Count);
    }

    [Fact]
    public async Task Mitigated_WhileTheOpenedIsHeldBy429_FoldedIntoItAndRetryAfterHonoured()
    {
        _service.Script("/hook/ops", new Reply(429, "slow down", new Dictionary<string, string> { ["Retry-After"] = "2" }));
        using var dispatcher = Start(Options(Webhook("ops")));
        var incident = AlertSamples.Incident();

        dispatcher.OnIncident(Change(IncidentChange.Opened, incident));
        await _service.WaitForAsync("/hook/ops", 1);
        // The service has answered, but the row is waiting again only once the dispatcher has read the 429:
        // before that it is being sent, and an update rightly becomes an event of its own.
        await Eventually.True(() => Task.FromResult(dispatcher.Counters.GetValueOrDefault(("ops", "opened", "retried")) == 1), "the 429 read");
        _actions.Add(AlertSamples.Action());
        dispatcher.OnAction(AlertSamples.Action());
        var received = await _service.WaitForAsync("/hook/ops", 2);

        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Equal(2, _service.To("/hook/ops").Count);
        Assert.True(received[1].At - received[0].At >= TimeSpan.FromSeconds(1.9), $"retried after {(received[1].At - received[0].At).TotalSeconds} s, asked for 2 s");
        Assert.Equal(received[0].Header("webhook-id"), received[1].Header("webhook-id"));
        var retried = received[1].Json();
        Assert.Equal("opened", retried.GetProperty("event").GetString());
        Assert.Equal("applied", retried.GetProperty("actions")[0].GetProperty("state").GetString());
        Assert.Equal(1, dispatcher.Counters.GetValueOrDefault(("ops", "opened", "retried")));
    }

    [Fact]
    public async Task HangingChannel_DoesNotDelayAnother()
    {
        _service.Script("/hook/stuck", Reply.Hanging, Reply.Hanging);
        var stuck = Webhook("stuck");
        stuck.TimeoutSeconds = 30;
        using var dispatcher = Start(Options(stuck, Webhook("ops")));

        dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident(id: 1)));
        await _service.WaitForAsync("/hook/stuck", 1);
        dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident(id: 2)));

        var ops = await _service.WaitForAsync("/hook/ops", 2, seconds: 5);
        Assert.Equal([1L, 2L], ops.Select(r => r.Json().GetProperty("incident").GetProperty("id").GetInt64()));
        Assert.Single(_service.To("/hook/stuck"));
    }

    [Fact]
    public async Task ServerErrors_RetriedWithBackoffUntilAccepted()
    {
        _service.Script("/hook/ops", new Reply(500, "down"), new Reply(502, "down"));
        using var dispatcher = Start(Options(Webhook("ops")));

        dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident()));

        var received = await _service.WaitForAsync("/hook/ops", 3);
        Assert.Single(received.Select(r => r.Header("webhook-id")).Distinct());
        await Eventually.True(() => Task.FromResult(_outbox!.List(pendingOnly: false).Single().State == DeliveryState.Sent), "marked sent");
        var delivery = _outbox!.List(pendingOnly: false).Single();
        Assert.Equal(3, delivery.Attempts);
        Assert.Equal(2, dispatcher.Counters.GetValueOrDefault(("ops", "opened", "retried")));
    }

    [Fact]
    public async Task RefusedByTheService_FailedAtOnceAndListedWithTheAnswer()
    {
        _service.Script("/hook/ops", new Reply(410, "gone"));
        using var dispatcher = Start(Options(Webhook("ops")));

        dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident()));

        await Eventually.True(() => Task.FromResult(_outbox!.List(pendingOnly: false).SingleOrDefault()?.State == DeliveryState.Failed), "marked failed");
        Assert.Equal("HTTP 410 gone", _outbox!.List(pendingOnly: false).Single().LastError);
        Assert.Single(_service.To("/hook/ops"));
    }

    [Fact]
    public async Task Restart_PendingDeliveriesResumedAndAResumedIncidentNotAnnouncedTwice()
    {
        _service.Script("/hook/ops", new Reply(503, "down"));
        var options = Options(Webhook("ops"));
        options.RetryBaseSeconds = 30;
        var incident = AlertSamples.Incident();
        string id;
        using (var first = Start(options))
        {
            first.OnIncident(Change(IncidentChange.Opened, incident));
            id = (await _service.WaitForAsync("/hook/ops", 1))[0].Header("webhook-id");
            await Eventually.True(() => Task.FromResult(_outbox!.List(pendingOnly: true).SingleOrDefault()?.Attempts == 1), "the retry recorded");
        }

        // Started again, with the first retry not due for a while: the restart does not reset the back-off...
        options.RetryBaseSeconds = 0.2;
        using var second = Start(options);
        second.OnIncident(Change(IncidentChange.Opened, incident));
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Single(_service.To("/hook/ops"));

        // ...and the resumed incident's Opened adds nothing: the channel was told already.
        Assert.Single(_outbox!.List(pendingOnly: false));
        Assert.Equal(id, _outbox.List(pendingOnly: true).Single().Id);
    }

    [Fact]
    public async Task RateLimit_SlackPace_OneRequestPerSecond()
    {
        var slack = AlertSamples.Channel("slack", _service.Url("/slack/T/B/x"), "slack");
        using var dispatcher = Start(Options(slack));

        for (var id = 1; id <= 3; id++)
        {
            dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident(id: id)));
        }

        var received = await _service.WaitForAsync("/slack/", 3);
        Assert.True(received[2].At - received[0].At >= TimeSpan.FromSeconds(1.9), string.Join(", ", received.Select(r => r.At.ToString("ss.fff", CultureInfo.InvariantCulture))));
    }

    [Fact]
    public async Task Escalated_WhileItsOpenedWaitsForThePace_FoldedIntoOneMessageAtTheNewSeverity()
    {
        var slack = AlertSamples.Channel("slack", _service.Url("/slack/T/B/x"), "slack");
        using var dispatcher = Start(Options(slack));
        var waiting = AlertSamples.Incident(id: 2, severity: Severity.Low);

        // Slack's pace is one a second: incident 2's opened waits behind incident 1's while it escalates twice.
        dispatcher.OnIncident(Change(IncidentChange.Opened, AlertSamples.Incident(id: 1)));
        await _service.WaitForAsync("/slack/", 1);
        dispatcher.OnIncident(Change(IncidentChange.Opened, waiting));
        dispatcher.OnIncident(Change(IncidentChange.Escalated, waiting with { Severity = Severity.High }));
        dispatcher.OnIncident(Change(IncidentChange.Escalated, waiting with { Severity = Severity.Critical }));

        var received = await _service.WaitForAsync("/slack/", 2);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        Assert.Equal(2, _service.To("/slack/").Count);
        Assert.StartsWith("Incident 2 opened ·", received[1].Json().GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal("#B00020", received[1].Json().GetProperty("attachments")[0].GetProperty("color").GetString());
        Assert.Equal(2, dispatcher.Counters.GetValueOrDefault(("slack", "escalated", "coalesced")));
    }

    [Fact]
    public async Task ResolvedOnlyIfOpened_ChannelNeverToldOpened_NotToldResolved()
    {
        var options = Options(Webhook("noc"), Webhook("pager"));
        options.Routes.High = ["noc"];
        using var dispatcher = Start(options);
        var incident = AlertSamples.Incident(severity: Severity.High);

        dispatcher.OnIncident(Change(IncidentChange.Opened, incident));
        dispatcher.OnIncident(Change(IncidentChange.Closed, incident with { ClosedAt = AlertSamples.Opened.AddMinutes(1) }));

        Assert.Equal(["opened", "resolved"], Events(await _service.WaitForAsync("/hook/noc", 2)));
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Empty(_service.To("/hook/pager"));
    }
}
