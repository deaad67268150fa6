using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// The actions the engine answers for, by incident and by action id, with the counts the caps need kept as actions
/// change (never counted again from the whole list). Used by the engine's one thread only.
/// </summary>
internal sealed class ActionLedger
{
    private readonly Dictionary<long, TrackedIncident> _incidents = [];
    private readonly Dictionary<long, LedgerEntry> _actions = [];

    /// <summary>Local drop rules in force or being applied.</summary>
    public int ActiveRules { get; private set; }

    /// <summary>Announcements in force or being applied.</summary>
    public int ActiveAnnouncements { get; private set; }

    /// <summary>Announcements tracked for any reason (in force, or owed a withdrawal): they need ExaBGP.</summary>
    public int Announcements { get; private set; }

    /// <summary>Local rules tracked for any reason.</summary>
    public int Rules { get; private set; }

    public int Count => _actions.Count;

    public IEnumerable<TrackedIncident> Incidents => _incidents.Values;

    /// <summary>Every entry, as a copy: callers withdraw (and so remove) entries while going through them.</summary>
    public List<LedgerEntry> Entries() => [.. _actions.Values];

    public bool TryGet(long incidentId, out TrackedIncident tracked) => _incidents.TryGetValue(incidentId, out tracked!);

    public TrackedIncident Track(IncidentRecord incident)
    {
        if (!_incidents.TryGetValue(incident.Id, out var tracked))
        {
            tracked = new TrackedIncident(incident);
            _incidents[incident.Id] = tracked;
        }

        return tracked;
    }

    public LedgerEntry? Find(long actionId) => _actions.GetValueOrDefault(actionId);

    public LedgerEntry Add(TrackedIncident owner, MitigationAction action, MitigationRule rule)
    {
        var entry = new LedgerEntry(owner, action, rule);
        owner.Entries.Add(entry);
        _actions[action.Id] = entry;
        Adjust(action, 1);
        return entry;
    }

    /// <summary>Replaces an entry's action (its new state), keeping the counts right.</summary>
    public void Update(LedgerEntry entry, MitigationAction action)
    {
        Adjust(entry.Action, -1);
        entry.Action = action;
        Adjust(action, 1);
    }

    public void Remove(LedgerEntry entry)
    {
        entry.Owner.Entries.Remove(entry);
        _actions.Remove(entry.Action.Id);
        Adjust(entry.Action, -1);
    }

    /// <summary>Stops tracking incidents with no action left that <paramref name="done"/> says are finished with.</summary>
    public void Forget(Func<TrackedIncident, bool> done)
    {
        foreach (var id in _incidents.Where(p => p.Value.Entries.Count == 0 && done(p.Value)).Select(p => p.Key).ToList())
        {
            _incidents.Remove(id);
        }
    }

    private void Adjust(MitigationAction action, int delta)
    {
        var local = action.Kind.IsLocal();
        if (action.State != ActionState.DryRun)
        {
            if (local)
            {
                Rules += delta;
            }
            else
            {
                Announcements += delta;
            }
        }

        if (action.IsActive)
        {
            if (local)
            {
                ActiveRules += delta;
            }
            else
            {
                ActiveAnnouncements += delta;
            }
        }
    }
}

/// <summary>An incident the engine acts for, with its actions and what of its policy is done.</summary>
internal sealed class TrackedIncident(IncidentRecord incident)
{
    public IncidentRecord Incident { get; set; } = incident;

    public List<LedgerEntry> Entries { get; } = [];

    /// <summary>Rules of each kind already applied (or given up) for this incident: never applied twice while the plan keeps them.</summary>
    public HashSet<(PolicyAction Kind, MitigationRule Rule)> Tried { get; } = [];

    /// <summary>Kinds the engine no longer changes for this incident: withdrawn by hand, or taken over from an earlier run.</summary>
    public HashSet<PolicyAction> Frozen { get; } = [];

    /// <summary>When its actions go, once it has closed (the grace period).</summary>
    public DateTimeOffset? WithdrawAfter { get; set; }

    public string? LastRefusal { get; set; }
}

/// <summary>One action and what the engine is waiting to do with it.</summary>
internal sealed class LedgerEntry(TrackedIncident owner, MitigationAction action, MitigationRule rule)
{
    public TrackedIncident Owner { get; } = owner;

    /// <summary>As recorded; replaced through <see cref="ActionLedger.Update"/> only, so the counts stay right.</summary>
    public MitigationAction Action { get; set; } = action;

    public MitigationRule Rule { get; } = rule;

    /// <summary>When a failed apply is tried again.</summary>
    public DateTimeOffset? RetryAt { get; set; }

    /// <summary>When a failed withdrawal is tried again, and why it is being withdrawn.</summary>
    public DateTimeOffset? WithdrawRetryAt { get; set; }

    public string? WithdrawReason { get; set; }

    /// <summary>ExaBGP may have the announcement (sent at least once, answered or not): its withdrawal must be sent.</summary>
    public bool MayBeAnnounced { get; set; }
}
