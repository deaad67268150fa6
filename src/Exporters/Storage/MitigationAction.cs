using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Exporters.Storage;

/// <summary>
/// One action taken (or planned, in dry-run) against an incident: a local drop rule or a BGP announcement, with
/// its state. What <c>flowcollector mitigations</c> and /api/mitigations show.
/// </summary>
public sealed record MitigationAction
{
    public long Id { get; init; }

    public required long IncidentId { get; init; }

    public required ActionKind Kind { get; init; }

    /// <summary>The rule in the backend's own words (nft match, FlowSpec match, RTBH prefix).</summary>
    public required string Rule { get; init; }

    /// <summary>The command that applied it (nft rule, ExaBGP announce), kept so that it can be withdrawn after a restart.</summary>
    public string Command { get; init; } = string.Empty;

    public DateTimeOffset? AppliedAt { get; init; }

    public DateTimeOffset? WithdrawnAt { get; init; }

    /// <summary>Packets the rule dropped, as its counter last read (local rules only).</summary>
    public long? Dropped { get; init; }

    public required ActionState State { get; init; }

    public int Attempts { get; init; }

    public bool DryRun { get; init; }

    /// <summary>An operator asked for it to be withdrawn (<c>flowcollector mitigations withdraw ID</c>).</summary>
    public bool WithdrawRequested { get; init; }

    public string? Error { get; init; }

    /// <summary>In force, or being applied: what a cap counts and a withdrawal must take back.</summary>
    public bool IsActive => WithdrawnAt is null && State is ActionState.Applied or ActionState.Pending;
}
