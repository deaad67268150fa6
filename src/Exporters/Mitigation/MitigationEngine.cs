using System.Collections.Concurrent;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
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

/// <summary>
/// Acts on incidents on a thread of its own, so that a slow nft or an absent ExaBGP never holds up detection:
/// applies what the policy asks for when an incident opens or escalates, withdraws it a grace period after the
/// incident closes, after its maximum lifetime, on an operator's request and at shutdown, retries what failed, reads
/// the drop counters back, and at start-up removes what a previous run left behind that no open incident wants.
/// Every action is recorded in the store before it is applied, so a crash in between is found at the next start.
/// </summary>
public sealed partial class MitigationEngine : IIncidentObserver, IDisposable
{
    private readonly MitigationOptions _options;
    private readonly MitigationPlanner _planner;
    private readonly IncidentStore _store;
    private readonly IRuleBackend? _rules;
    private readonly ExaBgpSpeaker? _bgp;
    private readonly MitigationMode _mode;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BlockingCollection<(IncidentRecord Incident, bool Closed)> _events = new(new ConcurrentQueue<(IncidentRecord, bool)>(), 100_000);
    private readonly Dictionary<long, Tracked> _incidents = [];
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly Thread _worker;

    // Touched on the detection thread only (Opened, Updated, Closed).
    private readonly Dictionary<long, string> _severities = [];
    private volatile bool _replayAnnouncements;
    private volatile bool _stopping;
    private int _activeActions;
    private int _bgpActions;
    private bool _tableRemoved;

    public MitigationEngine(MitigationOptions options, MitigationPlanner planner, IncidentStore store, IRuleBackend? rules, ExaBgpSpeaker? bgp, TimeProvider time, ILogger logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _mode = !options.Enabled ? MitigationMode.Off : options.DryRun ? MitigationMode.DryRun : MitigationMode.On;
        _planner = planner ?? throw new ArgumentNullException(nameof(planner));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _rules = rules;
        _bgp = bgp;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _worker = new Thread(Work) { IsBackground = true, Name = "mitigation" };
        if (_bgp is not null)
        {
            _bgp.Connected += () => _replayAnnouncements = true;
        }
    }

    /// <summary>Counts by outcome and kind (applied.nftables, failed.flowspec, refused, ...), for metrics.</summary>
    public IReadOnlyDictionary<string, long> Counters => _counters;

    public MitigationMode Mode => _mode;

    /// <summary>Actions in force (applied, or being applied or withdrawn) that the engine tracks now.</summary>
    public int ActiveActions => Volatile.Read(ref _activeActions);

    /// <summary>BGP announcements in force or awaiting their withdrawal: they need ExaBGP's relay connected.</summary>
    public bool NeedsExaBgp => Volatile.Read(ref _bgpActions) > 0 || (_mode == MitigationMode.On && _options.UsesBgp);

    /// <summary>
    /// Prepares the backend (when acting), then reconciles what the collector owns whatever the mode: rules in its
    /// table and recorded announcements are kept only where an open incident still wants them under the current
    /// configuration; the rest is withdrawn. Then starts the worker.
    /// </summary>
    public void Start()
    {
        if (_rules is not null && _mode == MitigationMode.On && !_rules.TryPrepare(out var failure))
        {
            LogBackendFailed(_logger, _rules.Kind, failure);
        }

        Reconcile();
        CountActive();
        _worker.Start();
    }

    public void Opened(IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(incident);
        _severities[incident.Id] = incident.Severity;
        Enqueue(incident, closed: false);
    }

    public void Updated(IncidentRecord incident, in IncidentSecond second)
    {
        ArgumentNullException.ThrowIfNull(incident);
        // Only a change of severity can change the plan; the rest of the updates are not the engine's business.
        if (!_severities.TryGetValue(incident.Id, out var severity) || severity != incident.Severity)
        {
            _severities[incident.Id] = incident.Severity;
            Enqueue(incident, closed: false);
        }
    }

    public void Closed(IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(incident);
        _severities.Remove(incident.Id);
        Enqueue(incident, closed: true);
    }

    /// <summary>Withdraws everything (the collector is stopping) and stops the worker.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _events.CompleteAdding();
        if (_worker.IsAlive)
        {
            _worker.Join(TimeSpan.FromSeconds(30));
        }

        foreach (var tracked in _incidents.Values)
        {
            foreach (var action in tracked.Actions.ToList())
            {
                Withdraw(tracked, action, "shutdown");
            }
        }

        // The table goes with the collector when nothing in it is still owed a withdrawal (a failed one stays
        // recorded, and the next start removes it).
        if (_rules is not null && !_tableRemoved && !Entries().Any(e => IsLocal(e.Entry.Action.Kind)) && !_rules.TryRemoveAll(out var failure))
        {
            LogBackendFailed(_logger, _rules.Kind, failure);
        }

        _events.Dispose();
    }

    private void Enqueue(IncidentRecord incident, bool closed)
    {
        if (_mode == MitigationMode.Off)
        {
            return;
        }

        if (!_events.IsAddingCompleted && !_events.TryAdd((incident, closed)))
        {
            Count("dropped_events");
        }
    }

    private void Work()
    {
        var nextHousekeeping = _time.GetUtcNow();
        while (!_events.IsCompleted)
        {
            var wait = nextHousekeeping - _time.GetUtcNow();
            if (_events.TryTake(out var item, wait > TimeSpan.Zero ? (int)Math.Ceiling(wait.TotalMilliseconds) : 0))
            {
                try
                {
                    Handle(item.Incident, item.Closed);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    // An action that fails is reported and retried; it never stops the engine.
                    LogUnexpected(_logger, exception);
                }
            }

            if (_time.GetUtcNow() >= nextHousekeeping)
            {
                try
                {
                    Housekeeping();
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    LogUnexpected(_logger, exception);
                }

                nextHousekeeping = _time.GetUtcNow().AddSeconds(1);
                CountActive();
            }
        }
    }

    private void CountActive()
    {
        var active = 0;
        var bgp = 0;
        foreach (var (_, entry) in Entries())
        {
            active++;
            if (!IsLocal(entry.Action.Kind) && entry.Action.State != "dry-run")
            {
                bgp++;
            }
        }

        Volatile.Write(ref _activeActions, active);
        Volatile.Write(ref _bgpActions, bgp);
    }

    private static bool IsLocal(string kind) => kind is "nftables" or "iptables";

    private void Handle(IncidentRecord incident, bool closed)
    {
        if (!_incidents.TryGetValue(incident.Id, out var tracked))
        {
            if (closed)
            {
                return;
            }

            tracked = new Tracked(incident);
            _incidents[incident.Id] = tracked;
        }

        tracked.Incident = incident;
        if (closed)
        {
            tracked.WithdrawAfter = _time.GetUtcNow().AddSeconds(_options.WithdrawGraceSeconds);
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

        foreach (var planned in plan.Actions)
        {
            var kind = planned.Kind == "nftables" ? _rules?.Kind ?? "nftables" : planned.Kind;
            if (tracked.Done.Contains(planned.Kind))
            {
                continue;
            }

            tracked.Done.Add(planned.Kind);
            Apply(tracked, kind, planned.Rule);
        }
    }

    private void Apply(Tracked tracked, string kind, MitigationRule rule)
    {
        var local = IsLocal(kind);
        var active = _incidents.Values.SelectMany(t => t.Actions).Count(a => a.Action.IsActive && IsLocal(a.Action.Kind) == local);
        var cap = local ? _options.MaxRules : _options.MaxAnnouncements;
        if (active >= cap)
        {
            Count("refused");
            var reason = $"the cap of {cap} {(local ? "rules" : "announcements")} is reached";
            LogRefused(_logger, tracked.Incident.Id, tracked.Incident.Key, reason);
            return;
        }

        if (local && _rules is null && _mode == MitigationMode.On)
        {
            LogRefused(_logger, tracked.Incident.Id, tracked.Incident.Key, "neither nft nor iptables is installed");
            return;
        }

        if (!local && _bgp is null && _mode == MitigationMode.On)
        {
            LogRefused(_logger, tracked.Incident.Id, tracked.Incident.Key, "ExaBGP is not configured");
            return;
        }

        var action = new MitigationAction
        {
            IncidentId = tracked.Incident.Id,
            Kind = kind,
            Rule = kind switch { "flowspec" => rule.ToFlowSpecMatch(), "rtbh" => rule.Destination.ToString(), _ => rule.ToNftables() },
            Command = kind switch
            {
                "flowspec" => ExaBgpCommands.AnnounceFlow(rule, _options.ExaBgp.FlowSpecRateLimit),
                "rtbh" => ExaBgpCommands.AnnounceBlackhole(rule, _options.ExaBgp.NextHop, _options.ExaBgp.EffectiveCommunities),
                _ => string.Empty,
            },
            State = _mode == MitigationMode.DryRun ? "dry-run" : "pending",
            DryRun = _mode == MitigationMode.DryRun,
        };
        action = action with { Id = _store.AddAction(action, tracked.Incident) };
        var entry = new Entry(action, rule);
        tracked.Actions.Add(entry);
        if (_mode == MitigationMode.DryRun)
        {
            entry.Action = action with { AppliedAt = _time.GetUtcNow() };
            _store.UpdateAction(entry.Action);
            LogDryRun(_logger, action.Id, tracked.Incident.Id, kind, action.Command.Length > 0 ? action.Command : action.Rule);
            return;
        }

        TryApply(tracked, entry);
    }

    private void TryApply(Tracked tracked, Entry entry)
    {
        var action = entry.Action;
        string command, failure;
        bool applied;
        if (action.Kind is "nftables" or "iptables")
        {
            applied = _rules!.TryApply(action.Id, action.IncidentId, entry.Rule, out command, out failure);
        }
        else
        {
            command = action.Command;
            applied = _bgp!.TrySend(command, out failure);

            // Unless the relay was not there at all, ExaBGP may have taken it (an answer can time out).
            entry.MayBeAnnounced |= applied || _bgp.IsConnected;
        }

        var now = _time.GetUtcNow();
        entry.Action = action with
        {
            Command = command,
            Attempts = action.Attempts + 1,
            AppliedAt = applied ? now : null,
            State = applied ? "applied" : action.Attempts + 1 >= _options.MaxAttempts ? "failed" : "pending",
            Error = applied ? null : failure,
        };
        entry.RetryAt = applied ? null : now.AddSeconds(_options.RetrySeconds);
        _store.UpdateAction(entry.Action);
        if (applied)
        {
            Count("applied." + action.Kind);
            LogApplied(_logger, action.Id, tracked.Incident.Id, action.Kind, command, (now - tracked.Incident.OpenedAt).TotalMilliseconds);
        }
        else
        {
            Count("failed." + action.Kind);
            LogApplyFailed(_logger, action.Id, tracked.Incident.Id, action.Kind, entry.Action.Attempts, failure);
        }
    }

    private void Withdraw(Tracked tracked, Entry entry, string reason)
    {
        var action = entry.Action;
        if (action.WithdrawnAt is not null)
        {
            return;
        }

        var failure = string.Empty;
        bool withdrawn;
        if (action.State == "dry-run")
        {
            withdrawn = true;
        }
        else if (IsLocal(action.Kind))
        {
            // Removing looks first: a rule that is not there is gone, one that cannot be listed is not assumed gone.
            withdrawn = _rules is not null ? _rules.TryRemove(action.Id, out failure) : Fail("neither nft nor iptables is installed to remove it", out failure);
        }
        else if (!entry.MayBeAnnounced)
        {
            // Never reached ExaBGP: there is nothing to take back.
            withdrawn = true;
        }
        else
        {
            // ExaBGP answers done to a withdrawal of a route it does not have, so sending it is always safe.
            withdrawn = _bgp is not null ? _bgp.TrySend(ExaBgpCommands.WithdrawalOf(action.Command), out failure) : Fail("Mitigation:ExaBgp:Socket is not set, so ExaBGP cannot be told", out failure);
        }

        if (!withdrawn)
        {
            entry.WithdrawRetryAt = _time.GetUtcNow().AddSeconds(_options.RetrySeconds);
            entry.WithdrawReason = reason;
            _store.UpdateAction(action with { Error = failure });
            Count("failed_withdrawals");
            LogWithdrawFailed(_logger, action.Id, action.Kind, failure);
            return;
        }

        entry.Action = action with { WithdrawnAt = _time.GetUtcNow(), State = action.State == "dry-run" ? "dry-run" : "withdrawn", Error = reason == "calm" ? null : reason };
        entry.WithdrawRetryAt = null;
        _store.UpdateAction(entry.Action);
        tracked.Actions.Remove(entry);
        Count("withdrawn." + action.Kind);
        LogWithdrawn(_logger, action.Id, tracked.Incident.Id, action.Kind, reason);
    }

    private void Housekeeping()
    {
        var now = _time.GetUtcNow();
        if (_replayAnnouncements && _bgp is not null)
        {
            // A (re)connected ExaBGP may have restarted and forgotten its routes: announce again what stands, and
            // send at once the withdrawals that were waiting for it (never announce those again).
            _replayAnnouncements = false;
            foreach (var (tracked, entry) in Entries().Where(e => !IsLocal(e.Entry.Action.Kind)).ToList())
            {
                if (entry.WithdrawRetryAt is not null)
                {
                    Withdraw(tracked, entry, entry.WithdrawReason ?? "retry");
                }
                else if (entry.Action.WithdrawnAt is null && entry.Action.State == "applied")
                {
                    _bgp.TrySend(entry.Action.Command, out _);
                }
            }
        }

        // Only actions this engine tracks can be withdrawn by hand, so with none there is nothing to ask the store.
        var requests = _incidents.Count == 0 ? [] : _store.Actions(activeOnly: true).Where(a => a.WithdrawRequested);
        foreach (var request in requests)
        {
            var found = Entries().FirstOrDefault(e => e.Entry.Action.Id == request.Id);
            if (found.Tracked is not null)
            {
                found.Tracked.Done.Add(found.Entry.Action.Kind is "iptables" ? "nftables" : found.Entry.Action.Kind);
                Withdraw(found.Tracked, found.Entry, "withdrawn by hand");
            }
        }

        foreach (var (tracked, entry) in Entries().ToList())
        {
            var action = entry.Action;
            if (entry.WithdrawRetryAt is { } withdrawAt && now >= withdrawAt)
            {
                Withdraw(tracked, entry, entry.WithdrawReason ?? "retry");
            }
            else if (tracked.WithdrawAfter is { } after && now >= after)
            {
                Withdraw(tracked, entry, tracked.Incident.CloseReason ?? "calm");
            }
            else if (action.AppliedAt is { } applied && now - applied >= TimeSpan.FromSeconds(_options.MaxLifetimeSeconds))
            {
                Withdraw(tracked, entry, "maximum lifetime reached");
            }
            else if (action.State == "pending" && entry.RetryAt is { } retry && now >= retry)
            {
                TryApply(tracked, entry);
            }
        }

        foreach (var id in _incidents.Where(p => p.Value.Actions.Count == 0 && (p.Value.WithdrawAfter is not null || _mode != MitigationMode.On)).Select(p => p.Key).ToList())
        {
            _incidents.Remove(id);
        }

        RemoveTableWhenDone();
        ReadCounters();
    }

    private void ReadCounters()
    {
        if (_rules is null || _mode != MitigationMode.On || !Entries().Any(e => e.Entry.Action.Kind == _rules.Kind))
        {
            return;
        }

        var installed = _rules.Installed(out _);
        if (installed is null)
        {
            return;
        }

        foreach (var rule in installed)
        {
            var found = Entries().FirstOrDefault(e => e.Entry.Action.Id == rule.ActionId);
            if (found.Entry is { } entry && entry.Action.Dropped != rule.Packets)
            {
                entry.Action = entry.Action with { Dropped = rule.Packets };
                _store.UpdateAction(entry.Action);
            }
        }
    }

    /// <summary>
    /// Start-up, whatever the mode: the actions an earlier run recorded as in force are adopted and judged again under
    /// the current configuration. Those of an incident that is still open, that the policy, the allowlist and the
    /// caps still allow, and that are still in place, are kept (to be withdrawn when the incident closes, or kept if
    /// it resumes); the rest are withdrawn. Rules in the collector's table that no kept action explains are removed.
    /// </summary>
    private void Reconcile()
    {
        var open = _store.Incidents(openOnly: true, limit: 100_000).ToDictionary(i => i.Id);
        var recorded = _store.Actions(activeOnly: true, limit: 100_000).Where(a => !a.DryRun).OrderBy(a => a.Id).ToList();
        var installed = InstalledRules();
        var kept = new HashSet<long>();
        var keptLocal = 0;
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

            var local = IsLocal(action.Kind);
            if (local && installed is not null && !installed.Any(r => r.ActionId == action.Id))
            {
                // Looked, and the rule is gone (reboot, or removed by hand): nothing to withdraw.
                _store.UpdateAction(action with { WithdrawnAt = _time.GetUtcNow(), State = "withdrawn", Error = "not installed at start-up" });
                continue;
            }

            incident ??= OrphanOf(action);
            if (!_incidents.TryGetValue(incident.Id, out var tracked))
            {
                tracked = new Tracked(incident);
                _incidents[incident.Id] = tracked;
            }

            var entry = new Entry(action, new MitigationRule(default)) { MayBeAnnounced = action.AppliedAt is not null || action.Attempts > 0 };
            tracked.Actions.Add(entry);
            tracked.Done.Add(local ? "nftables" : action.Kind);
            var refusal = RefusalOf(incident, action, local ? keptLocal : keptAnnouncements);
            if (refusal is null)
            {
                kept.Add(action.Id);
                _ = local ? keptLocal++ : keptAnnouncements++;
                continue;
            }

            Count("withdrawn_at_start");
            LogRefusedAtStart(_logger, action.Id, incident.Id, action.Kind, refusal);
            Withdraw(tracked, entry, refusal);
        }

        foreach (var rule in installed ?? [])
        {
            if (!kept.Contains(rule.ActionId) && !Entries().Any(e => e.Entry.Action.Id == rule.ActionId))
            {
                _rules!.TryRemove(rule.ActionId, out _);
                Count("stale_removed");
                LogStale(_logger, rule.ActionId, _rules.Kind);
            }
        }

        foreach (var id in _incidents.Where(p => p.Value.Actions.Count == 0).Select(p => p.Key).ToList())
        {
            _incidents.Remove(id);
        }

        RemoveTableWhenDone();
    }

    /// <summary>Not acting, and no rule owed a withdrawal: the collector's table (or chain) goes, as at shutdown.</summary>
    private void RemoveTableWhenDone()
    {
        if (_mode == MitigationMode.On || _rules is null || _tableRemoved || Entries().Any(e => IsLocal(e.Entry.Action.Kind)))
        {
            return;
        }

        // Tried once: a table that cannot be removed is reported, not retried every second.
        _tableRemoved = true;
        if (!_rules.TryRemoveAll(out var failure))
        {
            LogBackendFailed(_logger, _rules.Kind, failure);
        }
    }

    /// <summary>Our rules as installed now; empty when the table is not there; null when they cannot be listed.</summary>
    private IReadOnlyList<InstalledRule>? InstalledRules()
    {
        if (_rules is null)
        {
            return null;
        }

        var installed = _rules.Installed(out var failure);
        if (installed is null)
        {
            LogBackendFailed(_logger, _rules.Kind, $"cannot list the rules at start-up: {failure}");
        }

        return installed;
    }

    /// <summary>Why an adopted action may not stay under the current configuration; null when it may.</summary>
    private string? RefusalOf(IncidentRecord incident, MitigationAction action, int keptOfItsKind)
    {
        if (incident.ClosedAt is not null)
        {
            return $"its incident closed ({incident.CloseReason ?? "calm"})";
        }

        if (_mode == MitigationMode.Off)
        {
            return "mitigation is off (Mitigation:Enabled is false)";
        }

        if (_mode == MitigationMode.DryRun)
        {
            return "mitigation is a dry run now (Mitigation:DryRun)";
        }

        var kind = IsLocal(action.Kind) ? "nftables" : action.Kind;
        var plan = _planner.Plan(incident, incident.CapacityBps);
        if (!plan.Actions.Any(a => a.Kind == kind))
        {
            return $"the configuration no longer asks for it ({plan.Refusal ?? $"the policy for {incident.Severity} incidents has no {kind}"})";
        }

        var cap = IsLocal(action.Kind) ? _options.MaxRules : _options.MaxAnnouncements;
        return keptOfItsKind >= cap ? $"the cap of {cap} {(IsLocal(action.Kind) ? "rules" : "announcements")} is reached" : null;
    }

    /// <summary>An incident the store no longer holds: closed, so its actions go.</summary>
    private IncidentRecord OrphanOf(MitigationAction action) => new()
    {
        Id = action.IncidentId,
        Key = "unknown",
        KeyKind = "unknown",
        Node = string.Empty,
        AttackType = "unknown",
        Confidence = 0,
        Severity = "low",
        OpenedAt = _time.GetUtcNow(),
        ClosedAt = _time.GetUtcNow(),
        UpdatedAt = _time.GetUtcNow(),
        FirstSecond = 0,
        PeakPps = 0,
        PeakBps = 0,
        CurrentPps = 0,
        CurrentBps = 0,
        Threshold = 0,
        ThresholdMetric = "pps",
        CloseReason = "not found at start-up",
    };

    private static bool Fail(string reason, out string failure)
    {
        failure = reason;
        return false;
    }

    private IEnumerable<(Tracked Tracked, Entry Entry)> Entries() => _incidents.Values.SelectMany(t => t.Actions.Select(a => (t, a)));

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

    [LoggerMessage(Level = LogLevel.Error, Message = "mitigation engine: unexpected failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);

    private sealed class Tracked(IncidentRecord incident)
    {
        public IncidentRecord Incident { get; set; } = incident;

        public List<Entry> Actions { get; } = [];

        /// <summary>Policy kinds already acted on (or given up) for this incident: never applied twice.</summary>
        public HashSet<string> Done { get; } = new(StringComparer.Ordinal);

        public DateTimeOffset? WithdrawAfter { get; set; }

        public string? LastRefusal { get; set; }
    }

    private sealed class Entry(MitigationAction action, MitigationRule rule)
    {
        public MitigationAction Action { get; set; } = action;

        public MitigationRule Rule { get; } = rule;

        public DateTimeOffset? RetryAt { get; set; }

        public DateTimeOffset? WithdrawRetryAt { get; set; }

        public string? WithdrawReason { get; set; }

        /// <summary>ExaBGP may have the announcement (sent at least once, answered or not): its withdrawal must be sent.</summary>
        public bool MayBeAnnounced { get; set; }
    }
}
