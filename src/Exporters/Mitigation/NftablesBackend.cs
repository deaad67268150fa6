using System.Globalization;
using System.Text.Json;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// nftables: an inet table of the collector's own with one chain on the prerouting hook at raw priority (before
/// connection tracking, so a flood costs as little as possible), one counted drop rule per action. Changes go
/// through <c>nft -f -</c>, which applies a batch atomically; rules are read back as JSON. The table is marked with a
/// comment when it is created, and a table of that name without the mark is somebody else's: it is never listed,
/// changed or deleted.
/// </summary>
public sealed class NftablesBackend(string table, string nft = "nft") : IMitigationBackend
{
    /// <summary>The comment that marks the table as the collector's.</summary>
    public const string Mark = "flowcollector mitigation table";

    private const string Chain = "mitigation";
    private readonly Dictionary<long, long> _handles = [];

    // Once the table is known to be ours (found marked, or created here), the counters read every second skip the check.
    private bool _known;

    public ActionKind Kind => ActionKind.Nftables;

    public bool CanList => true;

    public bool IsReachable => true;

    public bool TryPrepare(out string failure)
    {
        var owner = Owner(out failure);
        if (owner is TableOwner.Foreign or TableOwner.Unknown)
        {
            return false;
        }

        var create = owner == TableOwner.Absent ? $"add table inet {table} {{ comment \"{Mark}\"; }}\n" : string.Empty;
        var result = CommandRunner.Run(nft, ["-f", "-"], $"{create}add chain inet {table} {Chain} {{ type filter hook prerouting priority -300; policy accept; }}\n");
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        _known = result.Succeeded;
        return result.Succeeded;
    }

    /// <summary>Whose the table is: absent, ours (marked, or holding only our chain and rules, as earlier builds left it), someone else's.</summary>
    public TableOwner Owner(out string failure)
    {
        if (_known)
        {
            failure = string.Empty;
            return TableOwner.Ours;
        }

        var result = CommandRunner.Run(nft, ["list", "table", "inet", table]);
        if (!result.Succeeded)
        {
            failure = IsAbsent(result.Reason) ? string.Empty : $"nft: {result.Reason}";
            return IsAbsent(result.Reason) ? TableOwner.Absent : TableOwner.Unknown;
        }

        if (result.Output.Contains($"comment \"{Mark}\"", StringComparison.Ordinal) || HoldsOnlyOurs(result.Output))
        {
            failure = string.Empty;
            _known = true;
            return TableOwner.Ours;
        }

        failure = $"table inet {table} exists and is not flowcollector's (it has no comment \"{Mark}\"): it is left alone; name a table of the collector's own in Mitigation:Nftables:Table";
        return TableOwner.Foreign;
    }

    /// <summary>A table with our chain alone, every rule in it tagged with an action: what builds before the mark created.</summary>
    private static bool HoldsOnlyOurs(string listing)
    {
        var lines = listing.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var chains = lines.Where(l => l.StartsWith("chain ", StringComparison.Ordinal)).ToList();
        if (chains.Count != 1 || chains[0] != $"chain {Chain} {{")
        {
            return false;
        }

        var rules = lines.Where(l => l.Contains(" drop", StringComparison.Ordinal) || l.Contains(" accept", StringComparison.Ordinal) || l.Contains("jump ", StringComparison.Ordinal) || l.Contains("goto ", StringComparison.Ordinal))
            .Where(l => !l.StartsWith("type ", StringComparison.Ordinal));
        return rules.All(l => l.Contains($"comment \"{RuleComments.Prefix}", StringComparison.Ordinal));
    }

    private static bool IsAbsent(string reason) => reason.Contains("No such file or directory", StringComparison.Ordinal);

    public ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(rule);
        command = $"add rule inet {table} {Chain} {rule.ToNftables()} counter drop comment \"{RuleComments.For(action.Id, action.IncidentId)}\"";
        var result = CommandRunner.Run(nft, ["-f", "-"], command + "\n");
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded ? ApplyOutcome.Applied : ApplyOutcome.Failed;
    }

    public bool TryWithdraw(MitigationAction action, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        var actionId = action.Id;
        if (!_handles.TryGetValue(actionId, out var handle))
        {
            if (Installed(out failure) is null)
            {
                return false;
            }

            if (!_handles.TryGetValue(actionId, out handle))
            {
                // Not there (any more): removed is what was wanted.
                return true;
            }
        }

        var result = CommandRunner.Run(nft, ["delete", "rule", "inet", table, Chain, "handle", handle.ToString(CultureInfo.InvariantCulture)]);
        _handles.Remove(actionId);
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded || result.Reason.Contains("No such file or directory", StringComparison.Ordinal);
    }

    public IReadOnlyList<InstalledRule>? Installed(out string failure)
    {
        switch (Owner(out failure))
        {
            case TableOwner.Absent:
                _handles.Clear();
                return [];
            case TableOwner.Foreign or TableOwner.Unknown:
                return null;
        }

        var result = CommandRunner.Run(nft, ["-j", "list", "chain", "inet", table, Chain]);
        if (!result.Succeeded)
        {
            failure = IsAbsent(result.Reason) ? string.Empty : $"nft: {result.Reason}";
            return IsAbsent(result.Reason) ? [] : null;
        }

        failure = string.Empty;
        _handles.Clear();
        var rules = new List<InstalledRule>();
        using var document = JsonDocument.Parse(result.Output);
        foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (!item.TryGetProperty("rule", out var rule) || !rule.TryGetProperty("comment", out var comment) || !RuleComments.TryParse(comment.GetString(), out var actionId))
            {
                continue;
            }

            long packets = 0;
            if (rule.TryGetProperty("expr", out var expressions))
            {
                foreach (var expression in expressions.EnumerateArray())
                {
                    if (expression.TryGetProperty("counter", out var counter) && counter.ValueKind == JsonValueKind.Object)
                    {
                        packets = counter.GetProperty("packets").GetInt64();
                    }
                }
            }

            _handles[actionId] = rule.GetProperty("handle").GetInt64();
            rules.Add(new InstalledRule(actionId, packets));
        }

        return rules;
    }

    public bool TryRemoveAll(out string failure)
    {
        switch (Owner(out failure))
        {
            case TableOwner.Absent:
                return true;
            case TableOwner.Foreign or TableOwner.Unknown:
                return false;
        }

        // The table is ours alone: deleting it takes every rule with it, and nothing else.
        var result = CommandRunner.Run(nft, ["delete", "table", "inet", table]);
        _known = false;
        _handles.Clear();
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded || result.Reason.Contains("No such file or directory", StringComparison.Ordinal);
    }
}

/// <summary>Whose an nftables table of the configured name is.</summary>
public enum TableOwner
{
    Absent,
    Ours,
    Foreign,

    /// <summary>nft could not say (not installed, no permission).</summary>
    Unknown,
}
