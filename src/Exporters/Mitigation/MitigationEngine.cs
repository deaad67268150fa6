using System.Collections.Concurrent;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>What the engine may do: act, plan without acting, or only clean up what an earlier run left.</summary>
public enum MitigationMode
{
    /// <summary>Mitigation:Enabled is false: nothing is applied; what an earlier run left in force is withdrawn.</summary>
    Off,

    /// <summary>Mitigation:DryRun: actions are planned and recorded, none applied; real ones of an earlier run are withdrawn.</summary>
    DryRun,

    On,
}

/// <summary>The backends actions take effect in; any may be missing (not installed, not configured).</summary>
/// <param name="Rules">Local drop rules: nftables or iptables.</param>
/// <param name="FlowSpec">FlowSpec announcements through ExaBGP.</param>
/// <param name="Rtbh">RTBH announcements through ExaBGP.</param>
public sealed record MitigationBackends(IMitigationBackend? Rules, IMitigationBackend? FlowSpec, IMitigationBackend? Rtbh);

/// <summary>
/// Decides what happens to mitigation actions and has the backends do it: applies what the policy asks for when an
/// incident opens or escalates, withdraws it a grace period after the incident closes, after its maximum lifetime,
/// on an operator's request and at shutdown, retries what failed, reads the drop counters back, and at start-up
/// reconciles what an earlier run left. Every action is recorded in the store before it is applied, so a crash in
/// between is found at the next start. Single-threaded and clock-driven: <see cref="MitigationWorker"/> runs it on a
/// thread of its own; tests call it directly with a fake clock and fake backends.
/// </summary>
public sealed partial class MitigationEngine
{
    /// <summary>Each reopening of an incident doubles the grace before its actions go, up to this many times (as the cool-down).</summary>
    private const int MaxGraceDoublings = 3;

    private readonly MitigationOptions _options;
    private readonly MitigationPlanner _planner;
    private readonly IncidentStore _store;
    private readonly MitigationBackends _backends;
    private readonly MitigationMode _mode;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ActionLedger _ledger = new();
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);
    private volatile bool _reconnected;
    private bool _tableRemoved;
    private int _activeActions;
    private int _owedAnnouncements;

    public MitigationEngine(MitigationOptions options, MitigationPlanner planner, IncidentStore store, MitigationBackends backends, TimeProvider time, ILogger logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _planner = planner ?? throw new ArgumentNullException(nameof(planner));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _backends = backends ?? throw new ArgumentNullException(nameof(backends));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _mode = !options.Enabled ? MitigationMode.Off : options.DryRun ? MitigationMode.DryRun : MitigationMode.On;
    }

    public MitigationMode Mode => _mode;

    /// <summary>An action was applied, failed, planned (dry run) or withdrawn; raised on the worker's thread, after the store has it.</summary>
    public event Action<MitigationAction>? ActionChanged;

    /// <summary>Counts by outcome and kind (applied.nftables, failed.flowspec, refused, ...), for metrics.</summary>
    public IReadOnlyDictionary<string, long> Counters => _counters;

    /// <summary>Actions in force (applied, or being applied or withdrawn) that the engine tracks now.</summary>
    public int ActiveActions => Volatile.Read(ref _activeActions);

    /// <summary>Whether ExaBGP is needed now: announcements are in force or owed a withdrawal, or mitigation announces.</summary>
    public bool NeedsExaBgp => Volatile.Read(ref _owedAnnouncements) > 0 || (_mode == MitigationMode.On && _options.UsesBgp);

    /// <summary>
    /// Prepares the local backend (when acting), then reconciles what the collector owns whatever the mode: rules in
    /// its table and recorded announcements are kept only where an open incident still wants them under the current
    /// configuration; the rest is withdrawn.
    /// </summary>
    public void Start()
    {
        if (_backends.Rules is { } rules && _mode == MitigationMode.On && !rules.TryPrepare(out var failure))
        {
            LogBackendFailed(_logger, ActionNames.Name(rules.Kind), failure);
        }

        Reconcile();
        Publish();
    }

    /// <summary>An announcement backend's relay (re)connected: it may have forgotten its routes.</summary>
    public void AnnouncerReconnected() => _reconnected = true;

    /// <summary>An incident change the engine never saw (its queue was full), counted with the other outcomes.</summary>
    public void NoteDroppedEvent() => Count("dropped_events");

    /// <summary>An incident opened, escalated or closed.</summary>
    public void Handle(IncidentRecord incident, bool closed)
    {
        ArgumentNullException.ThrowIfNull(incident);
        if (!_ledger.TryGet(incident.Id, out var tracked))
        {
            if (closed)
            {
                return;
            }

            tracked = _ledger.Track(incident);
        }

        tracked.Incident = incident;
        if (closed)
        {
            // The detector's reopen back-off governs withdrawal too: each return of the attack doubles the grace.
            var grace = (long)_options.WithdrawGraceSeconds << Math.Min(incident.Reopened, MaxGraceDoublings);
            tracked.WithdrawAfter = _time.GetUtcNow().AddSeconds(grace);
            return;
        }

        // Open, reopened or escalated: cancel a pending withdrawal and apply what the plan adds.
        tracked.WithdrawAfter = null;
        var plan = _planner.Plan(incident, incident.CapacityBps);
        if (plan.Refusal is { } refusal && tracked.LastRefusal != refusal)
        {
            // Said once per reason: all of the policy refused, or a part of it (RTBH waiting for the link to fill).
            tracked.LastRefusal = refusal;
            Count("refused");
            if (plan.Actions.Count == 0)
            {
                LogRefused(_logger, incident.Id, incident.Key, refusal);
            }
            else
            {
                LogPartlyRefused(_logger, incident.Id, incident.Key, refusal);
            }
        }

        foreach (var kind in plan.Actions.Select(a => a.Kind).Distinct())
        {
            if (!tracked.Frozen.Contains(kind))
            {
                Follow(tracked, kind, plan.Actions);
            }
        }

        Publish();
    }

    /// <summary>
    /// The once-a-second work: announcements again after a reconnect (owed withdrawals first), withdrawals asked for
    /// by hand, retries, grace periods and lifetimes, the table once nothing in it is owed, and the drop counters.
    /// </summary>
    public void Housekeep()
    {
        var now = _time.GetUtcNow();
        if (_reconnected)
        {
            // A (re)connected ExaBGP may have restarted and forgotten its routes: announce again what stands, and
            // send at once the withdrawals that were waiting for it (never announce those again).
            _reconnected = false;
            foreach (var entry in _ledger.Entries().Where(e => !e.Action.Kind.IsLocal()).OrderBy(e => e.WithdrawRetryAt is null))
            {
                if (entry.WithdrawRetryAt is not null)
                {
                    Withdraw(entry, entry.WithdrawReason ?? "retry");
                }
                else if (entry.Action.WithdrawnAt is null && entry.Action.State == ActionState.Applied && BackendFor(entry.Action.Kind) is { } backend)
                {
                    backend.TryApply(entry.Action, entry.Rule, out _, out _);
                }
            }
        }

        // Only actions this engine tracks can be withdrawn by hand, so with none there is nothing to ask the store.
        var requests = _ledger.Count == 0 ? [] : _store.Actions(activeOnly: true).Where(a => a.WithdrawRequested);
        foreach (var request in requests)
        {
            if (_ledger.Find(request.Id) is { } entry)
            {
                entry.Owner.Frozen.Add(PolicyOf(entry.Action.Kind));
                Withdraw(entry, "withdrawn by hand");
            }
        }

        foreach (var entry in _ledger.Entries())
        {
            var action = entry.Action;
            if (entry.WithdrawRetryAt is { } withdrawAt && now >= withdrawAt)
            {
                Withdraw(entry, entry.WithdrawReason ?? "retry");
            }
            else if (entry.Owner.WithdrawAfter is { } after && now >= after)
            {
                Withdraw(entry, CloseReasons.Name(entry.Owner.Incident.CloseReason ?? CloseReason.Calm));
            }
            else if (action.AppliedAt is { } applied && now - applied >= TimeSpan.FromSeconds(_options.MaxLifetimeSeconds))
            {
                Withdraw(entry, "maximum lifetime reached");
            }
            else if (action.State == ActionState.Pending && entry.RetryAt is { } retry && now >= retry)
            {
                TryApply(entry);
            }
        }

        _ledger.Forget(tracked => tracked.WithdrawAfter is not null || _mode != MitigationMode.On);
        RemoveTableWhenDone();
        ReadCounters();
        Publish();
    }

    /// <summary>Withdraws everything (the collector is stopping) and removes the table when nothing in it is owed.</summary>
    public void Shutdown()
    {
        foreach (var entry in _ledger.Entries())
        {
            Withdraw(entry, "shutdown");
        }

        // A withdrawal that failed stays recorded, and the next start removes it.
        if (_backends.Rules is { } rules && !_tableRemoved && _ledger.Rules == 0 && !rules.TryRemoveAll(out var failure))
        {
            LogBackendFailed(_logger, ActionNames.Name(rules.Kind), failure);
        }

        Publish();
    }

    private IMitigationBackend? BackendFor(ActionKind kind) => kind switch
    {
        ActionKind.FlowSpec => _backends.FlowSpec,
        ActionKind.Rtbh => _backends.Rtbh,
        _ => _backends.Rules,
    };

    /// <summary>
    /// Brings an incident's actions of one kind to what the plan asks for: its new rules are applied first, then the
    /// rules it no longer asks for are withdrawn. A router's packet sample may name another victim (the attack
    /// moved), and a multi-vector attack has one rule per vector, which change as its classification does.
    /// </summary>
    private void Follow(TrackedIncident tracked, PolicyAction kind, IReadOnlyList<PlannedAction> plan)
    {
        foreach (var planned in plan)
        {
            if (planned.Kind == kind && tracked.Tried.Add((kind, planned.Rule)))
            {
                Apply(tracked, planned);
            }
        }

        var stale = tracked.Entries
            .Where(e => e.Action.WithdrawnAt is null && e.WithdrawRetryAt is null && PolicyOf(e.Action.Kind) == kind && !plan.Any(p => p.Kind == kind && p.Rule == e.Rule))
            .ToList();
        foreach (var entry in stale)
        {
            // Withdrawn because the plan changed, so it may come back if the plan does.
            tracked.Tried.Remove((kind, entry.Rule));
            Withdraw(entry, plan.Any(p => p.Kind == kind && p.Rule.Destination == entry.Rule.Destination) ? "the attack's vectors changed" : "the victim moved");
        }
    }

    private static PolicyAction PolicyOf(ActionKind kind) => kind switch
    {
        ActionKind.FlowSpec => PolicyAction.FlowSpec,
        ActionKind.Rtbh => PolicyAction.Rtbh,
        _ => PolicyAction.LocalDrop,
    };

    private void Apply(TrackedIncident tracked, PlannedAction planned)
    {
        var kind = planned.Kind switch
        {
            PolicyAction.FlowSpec => ActionKind.FlowSpec,
            PolicyAction.Rtbh => ActionKind.Rtbh,
            _ => _backends.Rules?.Kind ?? ActionKind.Nftables,
        };
        var local = kind.IsLocal();
        var cap = local ? _options.MaxRules : _options.MaxAnnouncements;
        if ((local ? _ledger.ActiveRules : _ledger.ActiveAnnouncements) >= cap)
        {
            Count("refused");
            var reason = $"the cap of {cap} {(local ? "rules" : "announcements")} is reached";
            LogRefused(_logger, tracked.Incident.Id, tracked.Incident.Key, reason);
            return;
        }

        if (BackendFor(kind) is null && _mode == MitigationMode.On)
        {
            LogRefused(_logger, tracked.Incident.Id, tracked.Incident.Key, local ? "neither nft nor iptables is installed" : "ExaBGP is not configured");
            return;
        }

        var rule = planned.Rule;
        var dryRun = _mode == MitigationMode.DryRun;
        var action = new MitigationAction
        {
            IncidentId = tracked.Incident.Id,
            Kind = kind,
            Rule = kind switch { ActionKind.FlowSpec => rule.ToFlowSpecMatch(), ActionKind.Rtbh => rule.Destination.ToString(), _ => rule.ToNftables() },
            Command = kind switch
            {
                ActionKind.FlowSpec => ExaBgpCommands.AnnounceFlow(rule, _options.ExaBgp.FlowSpecRateLimit),
                ActionKind.Rtbh => ExaBgpCommands.AnnounceBlackhole(rule, _options.ExaBgp.NextHop, _options.ExaBgp.EffectiveCommunities),
                _ => string.Empty,
            },
            State = dryRun ? ActionState.DryRun : ActionState.Pending,
            DryRun = dryRun,
        };
        action = action with { Id = _store.AddAction(action, tracked.Incident) };
        var entry = _ledger.Add(tracked, action, rule);
        if (dryRun)
        {
            Record(entry, action with { AppliedAt = _time.GetUtcNow() });
            var wouldRun = action.Command.Length > 0 ? action.Command : action.Rule;
            var kindName = ActionNames.Name(kind);
            LogDryRun(_logger, action.Id, tracked.Incident.Id, kindName, wouldRun);
            return;
        }

        TryApply(entry);
    }

    private void TryApply(LedgerEntry entry)
    {
        var action = entry.Action;
        var backend = BackendFor(action.Kind)!;
        var outcome = backend.TryApply(action, entry.Rule, out var command, out var failure);
        var applied = outcome == ApplyOutcome.Applied;

        // Unless nothing was there to take it, ExaBGP may have it (an answer can time out).
        entry.MayBeAnnounced |= outcome != ApplyOutcome.NotReached;
        var now = _time.GetUtcNow();
        var attempts = action.Attempts + 1;
        Record(entry, action with
        {
            Command = command,
            Attempts = attempts,
            AppliedAt = applied ? now : null,
            State = applied ? ActionState.Applied : attempts >= _options.MaxAttempts ? ActionState.Failed : ActionState.Pending,
            Error = applied ? null : failure,
        });
        entry.RetryAt = applied ? null : now.AddSeconds(_options.RetrySeconds);
        var kind = ActionNames.Name(action.Kind);
        if (applied)
        {
            Count("applied." + kind);
            LogApplied(_logger, action.Id, action.IncidentId, kind, command, (now - entry.Owner.Incident.OpenedAt).TotalMilliseconds);
        }
        else
        {
            Count("failed." + kind);
            LogApplyFailed(_logger, action.Id, action.IncidentId, kind, attempts, failure);
        }
    }

    private void Withdraw(LedgerEntry entry, string reason)
    {
        var action = entry.Action;
        if (action.WithdrawnAt is not null)
        {
            return;
        }

        var failure = string.Empty;
        var backend = BackendFor(action.Kind);
        bool withdrawn;
        if (action.State == ActionState.DryRun)
        {
            withdrawn = true;
        }
        else if (action.Kind.IsLocal())
        {
            // Removing looks first: a rule that is not there is gone, one that cannot be listed is not assumed gone.
            withdrawn = backend is not null ? backend.TryWithdraw(action, out failure) : Fail("neither nft nor iptables is installed to remove it", out failure);
        }
        else if (!entry.MayBeAnnounced)
        {
            // Never reached ExaBGP: there is nothing to take back.
            withdrawn = true;
        }
        else
        {
            // ExaBGP answers done to a withdrawal of a route it does not have, so sending it is always safe.
            withdrawn = backend is not null ? backend.TryWithdraw(action, out failure) : Fail("Mitigation:ExaBgp:Socket is not set, so ExaBGP cannot be told", out failure);
        }

        var kind = ActionNames.Name(action.Kind);
        if (!withdrawn)
        {
            entry.WithdrawRetryAt = _time.GetUtcNow().AddSeconds(_options.RetrySeconds);
            entry.WithdrawReason = reason;
            Record(entry, action with { Error = failure });
            Count("failed_withdrawals");
            LogWithdrawFailed(_logger, action.Id, kind, failure);
            return;
        }

        Record(entry, action with
        {
            WithdrawnAt = _time.GetUtcNow(),
            State = action.State == ActionState.DryRun ? ActionState.DryRun : ActionState.Withdrawn,
            Error = reason == "calm" ? null : reason,
        });
        entry.WithdrawRetryAt = null;
        _ledger.Remove(entry);
        Count("withdrawn." + kind);
        LogWithdrawn(_logger, action.Id, action.IncidentId, kind, reason);
    }

    /// <summary>An action's new state, in the ledger (so its counts follow) and in the store.</summary>
    private void Record(LedgerEntry entry, MitigationAction action)
    {
        var before = entry.Action;
        _ledger.Update(entry, action);
        _store.UpdateAction(action);
        if (before.State != action.State || before.WithdrawnAt != action.WithdrawnAt)
        {
            ActionChanged?.Invoke(action);
        }
    }

    /// <summary>Not acting, and no rule owed a withdrawal: the collector's table (or chain) goes, as at shutdown.</summary>
    private void RemoveTableWhenDone()
    {
        if (_mode == MitigationMode.On || _backends.Rules is not { } rules || _tableRemoved || _ledger.Rules > 0)
        {
            return;
        }

        // Tried once: a table that cannot be removed is reported, not retried every second.
        _tableRemoved = true;
        if (!rules.TryRemoveAll(out var failure))
        {
            LogBackendFailed(_logger, ActionNames.Name(rules.Kind), failure);
        }
    }

    private void ReadCounters()
    {
        if (_backends.Rules is not { } rules || _mode != MitigationMode.On || _ledger.Rules == 0)
        {
            return;
        }

        var installed = rules.Installed(out _);
        if (installed is null)
        {
            return;
        }

        foreach (var rule in installed)
        {
            if (_ledger.Find(rule.ActionId) is { } entry && entry.Action.Dropped != rule.Packets)
            {
                Record(entry, entry.Action with { Dropped = rule.Packets });
            }
        }
    }

    /// <summary>
    /// Start-up, whatever the mode: the actions an earlier run recorded as in force are adopted and judged again under
    /// the current configuration. Those of an incident that is still open, that the policy, the allowlist and the
    /// caps still allow, and that are still in place, are kept (to be withdrawn when the incident closes, or kept if
    /// it resumes); the rest are withdrawn. Rules in the collector's table that no recorded action explains are removed.
    /// </summary>
    private void Reconcile()
    {
        var open = _store.Incidents(openOnly: true, limit: 100_000).ToDictionary(i => i.Id);
        var recorded = _store.Actions(activeOnly: true, limit: 100_000).Where(a => !a.DryRun).OrderBy(a => a.Id).ToList();
        var installed = InstalledRules();
        var keptRules = 0;
        var keptAnnouncements = 0;

        // Closed incidents are read once, and only when an action of one is still recorded as active.
        Dictionary<long, IncidentRecord>? all = null;
        foreach (var action in recorded)
        {
            if (!open.TryGetValue(action.IncidentId, out var incident))
            {
                all ??= _store.Incidents(openOnly: false, limit: 100_000).ToDictionary(i => i.Id);
                incident = all.GetValueOrDefault(action.IncidentId);
            }

            var local = action.Kind.IsLocal();
            if (local && installed is not null && !installed.Any(r => r.ActionId == action.Id))
            {
                // Looked, and the rule is gone (reboot, or removed by hand): nothing to withdraw.
                _store.UpdateAction(action with { WithdrawnAt = _time.GetUtcNow(), State = ActionState.Withdrawn, Error = "not installed at start-up" });
                continue;
            }

            var tracked = _ledger.Track(incident ?? OrphanOf(action));
            var entry = _ledger.Add(tracked, action, new MitigationRule(default));
            entry.MayBeAnnounced = action.AppliedAt is not null || action.Attempts > 0;
            tracked.Frozen.Add(PolicyOf(action.Kind));
            var refusal = RefusalOf(tracked.Incident, action, local ? keptRules : keptAnnouncements);
            if (refusal is null)
            {
                _ = local ? keptRules++ : keptAnnouncements++;
                continue;
            }

            Count("withdrawn_at_start");
            LogRefusedAtStart(_logger, action.Id, tracked.Incident.Id, ActionNames.Name(action.Kind), refusal);
            Withdraw(entry, refusal);
        }

        // A rule of a recorded action was judged above (kept, or withdrawn): only rules no record explains are stale.
        var explained = recorded.Select(a => a.Id).ToHashSet();
        foreach (var rule in installed ?? [])
        {
            if (!explained.Contains(rule.ActionId))
            {
                var rules = _backends.Rules!;
                rules.TryWithdraw(new MitigationAction { Id = rule.ActionId, IncidentId = 0, Kind = rules.Kind, Rule = string.Empty, State = ActionState.Applied }, out _);
                Count("stale_removed");
                LogStale(_logger, rule.ActionId, ActionNames.Name(rules.Kind));
            }
        }

        _ledger.Forget(static _ => true);
        RemoveTableWhenDone();
    }

    /// <summary>Our rules as installed now; empty when the table is not there; null when they cannot be listed.</summary>
    private IReadOnlyList<InstalledRule>? InstalledRules()
    {
        if (_backends.Rules is not { } rules)
        {
            return null;
        }

        var installed = rules.Installed(out var failure);
        if (installed is null)
        {
            LogBackendFailed(_logger, ActionNames.Name(rules.Kind), $"cannot list the rules at start-up: {failure}");
        }

        return installed;
    }

    /// <summary>Why an adopted action may not stay under the current configuration; null when it may.</summary>
    private string? RefusalOf(IncidentRecord incident, MitigationAction action, int keptOfItsKind)
    {
        if (incident.ClosedAt is not null)
        {
            return $"its incident closed ({CloseReasons.Name(incident.CloseReason ?? CloseReason.Calm)})";
        }

        if (_mode == MitigationMode.Off)
        {
            return "mitigation is off (Mitigation:Enabled is false)";
        }

        if (_mode == MitigationMode.DryRun)
        {
            return "mitigation is a dry run now (Mitigation:DryRun)";
        }

        var kind = PolicyOf(action.Kind);
        var plan = _planner.Plan(incident, incident.CapacityBps);
        if (!plan.Actions.Any(a => a.Kind == kind))
        {
            var name = action.Kind.IsLocal() ? "nftables" : ActionNames.Name(action.Kind);
            return $"the configuration no longer asks for it ({plan.Refusal ?? $"the policy for {AttackNames.Name(incident.Severity)} incidents has no {name}"})";
        }

        var local = action.Kind.IsLocal();
        var cap = local ? _options.MaxRules : _options.MaxAnnouncements;
        return keptOfItsKind >= cap ? $"the cap of {cap} {(local ? "rules" : "announcements")} is reached" : null;
    }

    /// <summary>An incident the store no longer holds: closed, so its actions go.</summary>
    private IncidentRecord OrphanOf(MitigationAction action) => new()
    {
        Id = action.IncidentId,
        Key = "unknown",
        KeyKind = KeyKind.Node,
        Node = string.Empty,
        AttackType = AttackType.Unknown,
        Confidence = 0,
        Severity = Severity.Low,
        OpenedAt = _time.GetUtcNow(),
        ClosedAt = _time.GetUtcNow(),
        UpdatedAt = _time.GetUtcNow(),
        FirstSecond = 0,
        PeakPps = 0,
        PeakBps = 0,
        CurrentPps = 0,
        CurrentBps = 0,
        Threshold = 0,
        ThresholdMetric = DetectionMetric.Pps,
        CloseReason = CloseReason.NotFound,
    };

    private static bool Fail(string reason, out string failure)
    {
        failure = reason;
        return false;
    }

    /// <summary>What /healthz and the metrics read from other threads, refreshed after each piece of work.</summary>
    private void Publish()
    {
        Volatile.Write(ref _activeActions, _ledger.ActiveRules + _ledger.ActiveAnnouncements);
        Volatile.Write(ref _owedAnnouncements, _ledger.Announcements);
    }

    private void Count(string name) => _counters.AddOrUpdate(name, 1, (_, value) => value + 1);

    [LoggerMessage(Level = LogLevel.Warning, Message = "mitigation {ActionId} for incident {IncidentId}: {Kind} applied ({Command}), {Milliseconds:F0} ms after the incident opened")]
    private static partial void LogApplied(ILogger logger, long actionId, long incidentId, string kind, string command, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "mitigation {ActionId} for incident {IncidentId}: {Kind} withdrawn ({Reason})")]
    private static partial void LogWithdrawn(ILogger logger, long actionId, long incidentId, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "dry run: mitigation {ActionId} for incident {IncidentId} would apply {Kind}: {Command}")]
    private static partial void LogDryRun(ILogger logger, long actionId, long incidentId, string kind, string command);

    [LoggerMessage(Level = LogLevel.Error, Message = "mitigation {ActionId} for incident {IncidentId}: {Kind} failed (attempt {Attempts}): {Failure}")]
    private static partial void LogApplyFailed(ILogger logger, long actionId, long incidentId, string kind, int attempts, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "mitigation {ActionId}: withdrawing {Kind} failed, will retry: {Failure}")]
    private static partial void LogWithdrawFailed(ILogger logger, long actionId, string kind, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "no mitigation for incident {IncidentId} on {Key}: {Reason}")]
    private static partial void LogRefused(ILogger logger, long incidentId, string key, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "incident {IncidentId} on {Key}: part of its policy is left out: {Reason}")]
    private static partial void LogPartlyRefused(ILogger logger, long incidentId, string key, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "mitigation {ActionId} for incident {IncidentId} ({Kind}) of an earlier run is withdrawn: {Reason}")]
    private static partial void LogRefusedAtStart(ILogger logger, long actionId, long incidentId, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed a stale {Kind} rule of action {ActionId} that no open incident wants")]
    private static partial void LogStale(ILogger logger, long actionId, string kind);

    [LoggerMessage(Level = LogLevel.Error, Message = "mitigation backend {Kind}: {Failure}")]
    private static partial void LogBackendFailed(ILogger logger, string kind, string failure);
}
