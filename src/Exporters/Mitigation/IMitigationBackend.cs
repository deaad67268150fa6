using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>What an attempt to apply an action came to.</summary>
public enum ApplyOutcome
{
    Applied,

    /// <summary>It failed, but may have taken effect (an answer that timed out).</summary>
    Failed,

    /// <summary>It certainly did not take effect: nothing was there to take it (no relay connected).</summary>
    NotReached,
}

/// <summary>A rule as installed on this machine: which action it belongs to and what it dropped.</summary>
public readonly record struct InstalledRule(long ActionId, long Packets);

/// <summary>
/// Where actions take effect: a firewall table of the collector's own (nftables, iptables), whose rules can be
/// listed back with their counters, or a BGP speaker (ExaBGP), whose announcements cannot. The engine decides; a
/// backend only does, and says whether it worked.
/// </summary>
public interface IMitigationBackend
{
    /// <summary>What its actions are recorded as.</summary>
    ActionKind Kind { get; }

    /// <summary>Whether what it holds can be listed (<see cref="Installed"/>): true for rules, false for announcements.</summary>
    bool CanList { get; }

    /// <summary>Whether it can be told anything now (an ExaBGP relay is connected; a local table always can).</summary>
    bool IsReachable { get; }

    /// <summary>Creates the table and chain (idempotent); nothing to do for announcements.</summary>
    bool TryPrepare(out string failure);

    /// <summary>Puts one action in force; what it ran or sent comes back for the record.</summary>
    ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure);

    /// <summary>Takes one action back. A rule that is not there any more is gone; an announcement's withdrawal is sent.</summary>
    bool TryWithdraw(MitigationAction action, out string failure);

    /// <summary>The rules in force now, with their counters; null when they cannot be listed.</summary>
    IReadOnlyList<InstalledRule>? Installed(out string failure);

    /// <summary>Removes everything the collector put in place (its table or chain); nothing to do for announcements.</summary>
    bool TryRemoveAll(out string failure);
}

internal static class RuleComments
{
    public const string Prefix = "flowcollector action ";

    public static string For(long actionId, long incidentId) => $"{Prefix}{actionId} incident {incidentId}";

    public static bool TryParse(string? comment, out long actionId)
    {
        actionId = 0;
        if (comment is null || !comment.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = comment.AsSpan(Prefix.Length);
        var space = rest.IndexOf(' ');
        return long.TryParse(space < 0 ? rest : rest[..space], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out actionId);
    }
}
