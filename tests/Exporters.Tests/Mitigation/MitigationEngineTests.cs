using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Exporters.Tests.Mitigation;

/// <summary>
/// The engine's decisions with a fake clock, in-memory backends and a real store on disk: each case runs in
/// milliseconds what the nft and ExaBGP integration tests need a root process and many seconds for.
/// </summary>
public sealed class MitigationEngineTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flowcollector-engine-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly FakeRuleBackend _rules = new();
    private readonly FakeAnnouncer _flowSpec = new(ActionKind.FlowSpec);
    private readonly FakeAnnouncer _rtbh = new(ActionKind.Rtbh);
    private readonly IncidentStore _store;

    public MitigationEngineTests()
    {
        Assert.True(IncidentStore.TryOpen(Path.Combine(_directory, "flowcollector.db"), out var store, out var error, time: _time), error);
        _store = store!;
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static MitigationOptions Options(Action<MitigationOptions>? change = null)
    {
        var options = new MitigationOptions
        {
            Enabled = true,
            TrustAnyExporter = true,
            WithdrawGraceSeconds = 10,
            MaxLifetimeSeconds = 600,
            RetrySeconds = 5,
            MaxAttempts = 3,
            ExaBgp = new ExaBgpOptions { Socket = "/run/flowcollector/exabgp.sock", NextHop = "192.0.2.254" },
        };
        change?.Invoke(options);
        return options;
    }

    private MitigationEngine Engine(MitigationOptions? options = null, bool withRules = true)
    {
        options ??= Options();
        var planner = new MitigationPlanner(options, new MonitoredPrefixes([IpPrefix.Parse("203.0.113.0/24")]), []);
        var backends = new MitigationBackends(withRules ? _rules : null, _flowSpec, _rtbh);
        return new MitigationEngine(options, planner, _store, backends, _time, NullLogger.Instance);
    }

    private IncidentRecord Incident(long id, string severity = "high", string address = "203.0.113.10") => new()
    {
        Id = id,
        Key = $"destination/{address}",
        KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination,
        Node = "edge-1",
        Address = address,
        AttackType = AttackType.UdpFlood,
        Confidence = 0.9,
        Severity = AttackNames.TryParse(severity, out Severity parsed) ? parsed : throw new ArgumentException(severity, nameof(severity)),
        OpenedAt = _time.GetUtcNow(),
        UpdatedAt = _time.GetUtcNow(),
        FirstSecond = _time.GetUtcNow().ToUnixTimeSeconds(),
        PeakPps = 500_000,
        PeakBps = 4e9,
        CurrentPps = 500_000,
        CurrentBps = 4e9,
        Threshold = 10_000,
        ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
    };

    private IncidentRecord Closed(IncidentRecord incident, CloseReason reason = CloseReason.Calm) => incident with { ClosedAt = _time.GetUtcNow(), CloseReason = reason };

    private List<MitigationAction> Active() => _store.Actions(activeOnly: true);

    private void Pass(MitigationEngine engine, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            engine.Housekeep();
        }
    }

    [Fact]
    public void Handle_OpenedIncident_AppliesItsPolicyAtOnceAndRecordsIt()
    {
        var engine = Engine();
        engine.Start();

        engine.Handle(Incident(1, "high"), closed: false);

        var actions = _store.Actions(activeOnly: true).OrderBy(a => a.Id).ToList();
        Assert.Equal([ActionKind.Nftables, ActionKind.FlowSpec], actions.Select(a => a.Kind));
        Assert.All(actions, a => Assert.Equal((ActionState.Applied, 1, _time.GetUtcNow()), (a.State, a.Attempts, a.AppliedAt)));
        Assert.Equal([actions[0].Id], _rules.Rules.Keys);
        Assert.Equal([actions[1].Command], _flowSpec.Sent);
        Assert.StartsWith("announce flow route", actions[1].Command, StringComparison.Ordinal);
        Assert.Equal(2, engine.ActiveActions);
        Assert.Equal(1, engine.Counters["applied.nftables"]);
        Assert.Equal(1, engine.Counters["applied.flowspec"]);
        Assert.True(engine.NeedsExaBgp);
    }

    [Fact]
    public void Handle_AnInterfaceWhoseSampleNamesAnotherVictim_MovesItsRulesToIt()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high") with
        {
            Key = "interface/procnetdev/-/eth1/in",
            KeyKind = FlowCollector.Detection.Rates.KeyKind.Interface,
            Interface = "eth1",
            Victims = [new VictimRate("203.0.113.10", 50_000)],
        };
        engine.Handle(incident, closed: false);
        var first = Active();

        // The router's next sample: the flood now goes to another host.
        engine.Handle(incident with { Address = "203.0.113.44", Victims = [new VictimRate("203.0.113.44", 52_000)] }, closed: false);

        var now = Active();
        Assert.Equal(2, now.Count);
        Assert.All(now, a => Assert.Contains("203.0.113.44", a.Rule, StringComparison.Ordinal));
        Assert.Single(_rules.Rules);
        var withdrawn = _store.Actions(activeOnly: false).Where(a => first.Any(f => f.Id == a.Id)).ToList();
        Assert.Equal(2, withdrawn.Count);
        Assert.All(withdrawn, a => Assert.NotNull(a.WithdrawnAt));

        // The same victim again changes nothing.
        engine.Handle(incident with { Address = "203.0.113.44", Victims = [new VictimRate("203.0.113.44", 40_000)] }, closed: false);
        Assert.Equal(now.Select(a => a.Id), Active().Select(a => a.Id));
    }

    [Fact]
    public void Housekeep_ClosedIncident_WithdrawsItsActionsAfterTheGracePeriod()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high");
        engine.Handle(incident, closed: false);

        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 9);
        Assert.Equal(2, Active().Count);
        Assert.Single(_rules.Rules);

        Pass(engine, 1);
        Assert.Empty(Active());
        Assert.Empty(_rules.Rules);
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[^1], StringComparison.Ordinal);
        var withdrawn = _store.Actions(activeOnly: false);
        Assert.All(withdrawn, a => Assert.Equal((ActionState.Withdrawn, (string?)null), (a.State, a.Error)));
        Assert.Equal(0, engine.ActiveActions);
    }

    [Fact]
    public void Housekeep_ReopenedIncidentCloses_WithdrawsAfterTheGraceDoubledPerReopening()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high") with { Reopened = 2 };
        engine.Handle(incident, closed: false);

        // Pulse waves: an incident that came back twice keeps its rules four grace periods after it calms down.
        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 39);
        Assert.Equal(2, Active().Count);

        Pass(engine, 1);
        Assert.Empty(Active());
    }

    [Fact]
    public void Handle_MultiVectorAttack_AppliesOneRulePerVector()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high") with { AttackType = AttackType.MultiVector, Vectors = [AttackType.DnsAmplification, AttackType.SynFlood] };

        engine.Handle(incident, closed: false);

        var rules = Active().Where(a => a.Kind == ActionKind.Nftables).Select(a => a.Rule).Order().ToList();
        Assert.Equal(2, rules.Count);
        Assert.Contains(rules, r => r.Contains("udp sport 53", StringComparison.Ordinal));
        Assert.Contains(rules, r => r.Contains("tcp flags", StringComparison.Ordinal));
        Assert.Equal(2, Active().Count(a => a.Kind == ActionKind.FlowSpec));
        Assert.Equal(2, _rules.Rules.Count);

        // The same plan again (a later escalation) applies nothing twice.
        engine.Handle(incident with { Severity = Severity.Critical }, closed: false);
        Assert.Equal(2, _rules.Rules.Count);
        Assert.Equal(2, _rules.Calls.Count(c => c.StartsWith("apply", StringComparison.Ordinal)));
    }

    [Fact]
    public void Handle_ClassificationChanges_ReplacesTheRuleOfTheVectorThatWent()
    {
        var engine = Engine(Options(o => o.Policy = new SeverityPolicy { High = ["nftables"] }));
        engine.Start();
        var incident = Incident(1, "high") with { AttackType = AttackType.MultiVector, Vectors = [AttackType.DnsAmplification, AttackType.SynFlood] };
        engine.Handle(incident, closed: false);
        var syn = Assert.Single(Active(), a => a.Rule.Contains("tcp flags", StringComparison.Ordinal));

        // The SYN flood turns out to be a small share: the attack is the amplification alone.
        engine.Handle(incident with { AttackType = AttackType.DnsAmplification, Vectors = [] }, closed: false);

        var standing = Assert.Single(Active());
        Assert.Contains("udp sport 53", standing.Rule, StringComparison.Ordinal);
        Assert.Single(_rules.Rules);
        var withdrawn = _store.Actions(activeOnly: false).Single(a => a.Id == syn.Id);
        Assert.Equal((ActionState.Withdrawn, "the attack's vectors changed"), (withdrawn.State, withdrawn.Error));
    }

    [Fact]
    public void Handle_IncidentResumingWithinGrace_KeepsItsActionsWithoutApplyingAgain()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high");
        engine.Handle(incident, closed: false);
        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 5);

        engine.Handle(incident with { Reopened = 1 }, closed: false);
        Pass(engine, 30);

        Assert.Equal(2, Active().Count);
        Assert.Single(_flowSpec.Sent);
        Assert.Single(_rules.Calls, c => c.StartsWith("apply", StringComparison.Ordinal));
    }

    [Fact]
    public void Housekeep_MaximumLifetimeReached_WithdrawsAndNeverReapplies()
    {
        var engine = Engine(Options(o => o.MaxLifetimeSeconds = 60));
        engine.Start();
        var incident = Incident(1, "medium");
        engine.Handle(incident, closed: false);

        Pass(engine, 59);
        Assert.Single(Active());
        Pass(engine, 1);
        var action = Assert.Single(_store.Actions(activeOnly: false));
        Assert.Equal((ActionState.Withdrawn, "maximum lifetime reached"), (action.State, action.Error));

        engine.Handle(incident with { Severity = Severity.Medium, PeakPps = 900_000 }, closed: false);
        Assert.Single(_store.Actions(activeOnly: false));
        Assert.Empty(_rules.Rules);
    }

    [Fact]
    public void Handle_RuleCapReached_RefusesUntilARuleIsWithdrawn()
    {
        var engine = Engine(Options(o => { o.MaxRules = 2; o.WithdrawGraceSeconds = 0; }));
        engine.Start();
        var first = Incident(1, "medium", "203.0.113.1");
        engine.Handle(first, closed: false);
        engine.Handle(Incident(2, "medium", "203.0.113.2"), closed: false);

        engine.Handle(Incident(3, "medium", "203.0.113.3"), closed: false);
        Assert.Equal(2, _rules.Rules.Count);
        Assert.Equal(1, engine.Counters["refused"]);

        engine.Handle(Closed(first), closed: true);
        Pass(engine, 1);
        engine.Handle(Incident(4, "medium", "203.0.113.4"), closed: false);
        Assert.Equal(2, _rules.Rules.Count);
        Assert.Equal([2L, 4L], Active().Select(a => a.IncidentId).Order());
    }

    [Fact]
    public void Handle_AnnouncementCap_CountsFlowSpecAndRtbhTogether()
    {
        var engine = Engine(Options(o => o.MaxAnnouncements = 3));
        engine.Start();

        engine.Handle(Incident(1, "critical", "203.0.113.1"), closed: false);
        engine.Handle(Incident(2, "critical", "203.0.113.2"), closed: false);

        var announcements = Active().Where(a => !a.Kind.IsLocal()).ToList();
        Assert.Equal(3, announcements.Count);
        Assert.Equal([ActionKind.FlowSpec, ActionKind.FlowSpec, ActionKind.Rtbh], announcements.Select(a => a.Kind).Order());
        Assert.Equal(2, _rules.Rules.Count);
    }

    [Fact]
    public void Housekeep_FailedApply_RetriesAfterTheDelayUntilItWorks()
    {
        _rules.FailApplies = 2;
        var engine = Engine();
        engine.Start();
        engine.Handle(Incident(1, "medium"), closed: false);

        var pending = Assert.Single(Active());
        Assert.Equal((ActionState.Pending, 1, "nft: resource busy"), (pending.State, pending.Attempts, pending.Error));
        Pass(engine, 4);
        Assert.Equal(1, _store.Action(pending.Id)!.Attempts);
        Pass(engine, 1);
        Assert.Equal((ActionState.Pending, 2), (_store.Action(pending.Id)!.State, _store.Action(pending.Id)!.Attempts));
        Pass(engine, 5);

        var applied = _store.Action(pending.Id)!;
        Assert.Equal((ActionState.Applied, 3, (string?)null), (applied.State, applied.Attempts, applied.Error));
        Assert.Equal(_time.GetUtcNow(), applied.AppliedAt);
        Assert.Equal(2, engine.Counters["failed.nftables"]);
        Assert.Single(_rules.Rules);
    }

    [Fact]
    public void Housekeep_ApplyKeepsFailing_GivesUpAfterMaximumAttempts()
    {
        _rules.FailApplies = 100;
        var engine = Engine();
        engine.Start();
        engine.Handle(Incident(1, "medium"), closed: false);

        Pass(engine, 60);

        var action = Assert.Single(_store.Actions(activeOnly: false));
        Assert.Equal((ActionState.Failed, 3), (action.State, action.Attempts));
        Assert.Equal(3, _rules.Calls.Count(c => c.StartsWith("apply", StringComparison.Ordinal)));
        Assert.Equal(0, engine.ActiveActions);
    }

    [Fact]
    public void Housekeep_FailedWithdrawal_RetriesAndNeverGivesUp()
    {
        var engine = Engine(Options(o => o.WithdrawGraceSeconds = 0));
        engine.Start();
        var incident = Incident(1, "medium");
        engine.Handle(incident, closed: false);
        _rules.FailWithdrawals = 10;

        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 1);
        Assert.Single(Active());
        Assert.Equal("nft: resource busy", Active()[0].Error);
        Pass(engine, 10 * 5);

        Assert.Empty(Active());
        Assert.Empty(_rules.Rules);
        Assert.Equal(10, engine.Counters["failed_withdrawals"]);
    }

    [Fact]
    public void Handle_Escalation_AddsTheHigherSeverityActionsAndKeepsTheOthers()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "medium");
        engine.Handle(incident, closed: false);
        Assert.Equal([ActionKind.Nftables], Active().Select(a => a.Kind));

        engine.Handle(incident with { Severity = Severity.Critical }, closed: false);

        Assert.Equal([ActionKind.Nftables, ActionKind.FlowSpec, ActionKind.Rtbh], Active().OrderBy(a => a.Id).Select(a => a.Kind));
        Assert.Single(_rules.Calls, c => c.StartsWith("apply", StringComparison.Ordinal));
        Assert.Single(_rtbh.Sent);
        Assert.Contains("next-hop 192.0.2.254", _rtbh.Sent[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Handle_RtbhOnAKnownLink_WaitsUntilTheFloodFillsEnoughOfIt()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "critical") with { CapacityBps = 10e9, PeakBps = 4e9 };

        engine.Handle(incident, closed: false);
        Assert.DoesNotContain(Active(), a => a.Kind == ActionKind.Rtbh);
        Assert.Equal(1, engine.Counters["refused"]);

        engine.Handle(incident with { PeakBps = 6e9 }, closed: false);
        Assert.Single(Active(), a => a.Kind == ActionKind.Rtbh);
    }

    [Fact]
    public void Housekeep_WithdrawalRequestedByHand_WithdrawsAndNeverReapplies()
    {
        var engine = Engine();
        engine.Start();
        var incident = Incident(1, "high");
        engine.Handle(incident, closed: false);
        var flowSpec = Active().Single(a => a.Kind == ActionKind.FlowSpec);

        Assert.True(_store.RequestWithdraw(flowSpec.Id));
        Pass(engine, 1);

        var withdrawn = _store.Action(flowSpec.Id)!;
        Assert.Equal((ActionState.Withdrawn, "withdrawn by hand"), (withdrawn.State, withdrawn.Error));
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[^1], StringComparison.Ordinal);
        engine.Handle(incident with { Severity = Severity.Critical }, closed: false);
        Assert.DoesNotContain(Active(), a => a.Kind == ActionKind.FlowSpec);
        Assert.Single(Active(), a => a.Kind == ActionKind.Nftables);
    }

    [Fact]
    public void Handle_DryRun_RecordsActionsAndAppliesNothing()
    {
        var engine = Engine(Options(o => o.DryRun = true));
        engine.Start();
        var incident = Incident(1, "critical");

        engine.Handle(incident, closed: false);
        var recorded = _store.Actions(activeOnly: false);
        Assert.Equal(3, recorded.Count);
        Assert.All(recorded, a => Assert.True(a.State == ActionState.DryRun && a.DryRun));
        Assert.Empty(_rules.Rules);
        Assert.Empty(_flowSpec.Sent);
        Assert.Empty(_rtbh.Sent);
        Assert.False(engine.NeedsExaBgp);

        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 10);
        Assert.All(_store.Actions(activeOnly: false), a => Assert.NotNull(a.WithdrawnAt));
    }

    [Fact]
    public void Housekeep_AnnouncementThatNeverReachedExaBgp_NeedsNoWithdrawal()
    {
        _flowSpec.Connected = false;
        var engine = Engine(Options(o => o.WithdrawGraceSeconds = 0));
        engine.Start();
        var incident = Incident(1, "high");
        engine.Handle(incident, closed: false);
        var flowSpec = Active().Single(a => a.Kind == ActionKind.FlowSpec);
        Assert.Equal(ActionState.Pending, flowSpec.State);

        engine.Handle(Closed(incident), closed: true);
        Pass(engine, 1);

        Assert.Equal(ActionState.Withdrawn, _store.Action(flowSpec.Id)!.State);
        Assert.Empty(_flowSpec.Sent);
    }

    [Fact]
    public void Housekeep_AfterReconnect_SendsOwedWithdrawalsThenStandingAnnouncements()
    {
        var engine = Engine(Options(o => o.WithdrawGraceSeconds = 0));
        engine.Start();
        var standing = Incident(1, "high", "203.0.113.1");
        var ending = Incident(2, "high", "203.0.113.2");
        engine.Handle(standing, closed: false);
        engine.Handle(ending, closed: false);
        _flowSpec.Connected = false;
        engine.Handle(Closed(ending), closed: true);
        Pass(engine, 1);
        Assert.Equal(2, Active().Count(a => a.Kind == ActionKind.FlowSpec));
        _flowSpec.Sent.Clear();

        _flowSpec.Connected = true;
        engine.AnnouncerReconnected();
        Pass(engine, 1);

        Assert.Equal(2, _flowSpec.Sent.Count);
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[0], StringComparison.Ordinal);
        Assert.Contains("203.0.113.2/32", _flowSpec.Sent[0], StringComparison.Ordinal);
        Assert.StartsWith("announce flow route", _flowSpec.Sent[1], StringComparison.Ordinal);
        Assert.Contains("203.0.113.1/32", _flowSpec.Sent[1], StringComparison.Ordinal);
        Assert.Equal([1L], Active().Where(a => a.Kind == ActionKind.FlowSpec).Select(a => a.IncidentId));
    }

    [Fact]
    public void Housekeep_InstalledRules_ReadsTheirDropCountersBack()
    {
        var engine = Engine();
        engine.Start();
        engine.Handle(Incident(1, "medium"), closed: false);
        var rule = Assert.Single(Active());

        _rules.Rules[rule.Id] = 123_456;
        Pass(engine, 1);

        Assert.Equal(123_456, _store.Action(rule.Id)!.Dropped);
    }

    [Fact]
    public void Shutdown_ActionsInForce_WithdrawsEverythingAndRemovesTheTable()
    {
        var engine = Engine();
        engine.Start();
        engine.Handle(Incident(1, "high"), closed: false);

        engine.Shutdown();

        Assert.Empty(Active());
        Assert.All(_store.Actions(activeOnly: false), a => Assert.Equal("shutdown", a.Error));
        Assert.False(_rules.TableExists);
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Shutdown_WithdrawalFails_KeepsTheTableForTheNextStart()
    {
        var engine = Engine();
        engine.Start();
        engine.Handle(Incident(1, "medium"), closed: false);
        _rules.FailWithdrawals = 1;

        engine.Shutdown();

        Assert.Single(Active());
        Assert.True(_rules.TableExists);
        Assert.Single(_rules.Rules);
    }

    [Fact]
    public void Start_EarlierRunsActions_KeepsWhatOpenIncidentsStillWantAndWithdrawsTheRest()
    {
        // What an earlier run that was killed left: four actions recorded as applied, three rules installed.
        var open = Incident(1, "high", "203.0.113.1");
        var closed = Incident(2, "medium", "203.0.113.2");
        var kept = AddApplied(open, ActionKind.Nftables);
        var keptAnnouncement = AddApplied(open, ActionKind.FlowSpec);
        var ofClosed = AddApplied(closed, ActionKind.Nftables);
        var removedByHand = AddApplied(Incident(3, "medium", "203.0.113.3"), ActionKind.Nftables);
        _store.Save(Closed(closed));
        Assert.True(_store.Flush(TimeSpan.FromSeconds(10)));
        _rules.TableExists = true;
        _rules.Rules[kept.Id] = 10;
        _rules.Rules[ofClosed.Id] = 10;
        _rules.Rules[999] = 10;

        var engine = Engine();
        engine.Start();

        Assert.Equal([kept.Id, keptAnnouncement.Id], Active().Select(a => a.Id).Order());
        Assert.Equal([kept.Id], _rules.Rules.Keys);
        Assert.Equal("not installed at start-up", _store.Action(removedByHand.Id)!.Error);
        Assert.StartsWith("its incident closed", _store.Action(ofClosed.Id)!.Error, StringComparison.Ordinal);
        Assert.Equal(1, engine.Counters["stale_removed"]);
        Assert.Equal(1, engine.Counters["withdrawn_at_start"]);
        Assert.Equal(1, _rules.Calls.Count(c => c == $"withdraw {ofClosed.Id}"));
        Assert.Empty(_flowSpec.Sent);

        // Adopted actions follow their incident: when it closes, they go after the grace period.
        engine.Handle(Closed(open), closed: true);
        Pass(engine, 10);
        Assert.Empty(Active());
        Assert.Empty(_rules.Rules);
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Start_MitigationOff_WithdrawsEverythingAndRemovesTheTable()
    {
        var incident = Incident(1, "high");
        var rule = AddApplied(incident, ActionKind.Nftables);
        AddApplied(incident, ActionKind.FlowSpec);
        _rules.TableExists = true;
        _rules.Rules[rule.Id] = 0;

        var engine = Engine(Options(o => o.Enabled = false));
        engine.Start();

        Assert.Empty(Active());
        Assert.All(_store.Actions(activeOnly: false), a => Assert.Equal("mitigation is off (Mitigation:Enabled is false)", a.Error));
        Assert.False(_rules.TableExists);
        Assert.Single(_flowSpec.Sent);
        Assert.StartsWith("withdraw flow route", _flowSpec.Sent[0], StringComparison.Ordinal);
        Assert.DoesNotContain("prepare", _rules.Calls);
    }

    [Fact]
    public void Start_VictimNowAllowlisted_WithdrawsItsAction()
    {
        var incident = Incident(1, "medium");
        var rule = AddApplied(incident, ActionKind.Nftables);
        _rules.TableExists = true;
        _rules.Rules[rule.Id] = 0;

        var engine = Engine(Options(o => o.Allowlist = ["203.0.113.0/28"]));
        engine.Start();

        Assert.Empty(Active());
        Assert.Contains("overlaps the allowlisted 203.0.113.0/28", _store.Action(rule.Id)!.Error, StringComparison.Ordinal);
        Assert.Empty(_rules.Rules);
    }

    [Fact]
    public void Start_RulesCannotBeListed_DoesNotAssumeThemGone()
    {
        var incident = Incident(1, "medium");
        var rule = AddApplied(incident, ActionKind.Nftables);
        _rules.TableExists = true;
        _rules.Rules[rule.Id] = 0;
        _rules.FailListing = true;

        var engine = Engine();
        engine.Start();

        Assert.Equal([rule.Id], Active().Select(a => a.Id));
        Assert.Null(_store.Action(rule.Id)!.Error);
    }

    private MitigationAction AddApplied(IncidentRecord incident, ActionKind kind)
    {
        var rule = new MitigationRule(IpPrefix.Parse(incident.Address + "/32"));
        var action = new MitigationAction
        {
            IncidentId = incident.Id,
            Kind = kind,
            Rule = kind.IsLocal() ? rule.ToNftables() : rule.ToFlowSpecMatch(),
            Command = kind == ActionKind.FlowSpec ? ExaBgpCommands.AnnounceFlow(rule, 0) : string.Empty,
            State = ActionState.Applied,
            AppliedAt = _time.GetUtcNow(),
            Attempts = 1,
        };
        return action with { Id = _store.AddAction(action, incident) };
    }
}
