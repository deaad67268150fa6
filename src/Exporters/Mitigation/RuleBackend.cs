using FlowCollector.Detection.Mitigation;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>A rule as installed on this machine: which action it belongs to and what it dropped.</summary>
public readonly record struct InstalledRule(long ActionId, long Packets);

/// <summary>
/// Local drop rules in a table or chain the collector owns and never leaves. Every rule carries the action's id in
/// its comment, which is how rules of an earlier run are found again.
/// </summary>
public interface IRuleBackend
{
    /// <summary><c>nftables</c> or <c>iptables</c>.</summary>
    string Kind { get; }

    /// <summary>Creates the table and chain (idempotent).</summary>
    bool TryPrepare(out string failure);

    /// <summary>Installs one rule; the command it ran comes back for the record.</summary>
    bool TryApply(long actionId, long incidentId, MitigationRule rule, out string command, out string failure);

    bool TryRemove(long actionId, out string failure);

    /// <summary>Our rules as installed now, with their counters; null when they cannot be read.</summary>
    IReadOnlyList<InstalledRule>? Installed(out string failure);

    /// <summary>Removes everything the collector installed (shutdown).</summary>
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
