using System.Globalization;
using System.Text.Json;
using FlowCollector.Detection.Mitigation;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// nftables: an inet table of the collector's own with one chain on the prerouting hook at raw priority (before
/// connection tracking, so a flood costs as little as possible), one counted drop rule per action. Changes go
/// through <c>nft -f -</c>, which applies a batch atomically; rules are read back as JSON.
/// </summary>
public sealed class NftablesBackend(string table, string nft = "nft") : IRuleBackend
{
    private const string Chain = "mitigation";
    private readonly Dictionary<long, long> _handles = [];

    public string Kind => "nftables";

    public bool TryPrepare(out string failure)
    {
        var result = CommandRunner.Run(nft, ["-f", "-"], $"add table inet {table}\nadd chain inet {table} {Chain} {{ type filter hook prerouting priority -300; policy accept; }}\n");
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded;
    }

    public bool TryApply(long actionId, long incidentId, MitigationRule rule, out string command, out string failure)
    {
        ArgumentNullException.ThrowIfNull(rule);
        command = $"add rule inet {table} {Chain} {rule.ToNftables()} counter drop comment \"{RuleComments.For(actionId, incidentId)}\"";
        var result = CommandRunner.Run(nft, ["-f", "-"], command + "\n");
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded;
    }

    public bool TryRemove(long actionId, out string failure)
    {
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
        var result = CommandRunner.Run(nft, ["-j", "list", "chain", "inet", table, Chain]);
        if (!result.Succeeded)
        {
            failure = $"nft: {result.Reason}";
            return null;
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
        // The table is ours alone: deleting it takes every rule with it, and nothing else.
        var result = CommandRunner.Run(nft, ["delete", "table", "inet", table]);
        _handles.Clear();
        failure = result.Succeeded ? string.Empty : $"nft: {result.Reason}";
        return result.Succeeded || result.Reason.Contains("No such file or directory", StringComparison.Ordinal);
    }
}
