using System.Globalization;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// iptables and ip6tables where nft is missing: a chain of the collector's own in the raw table (before connection
/// tracking), jumped to from PREROUTING, one counted DROP rule per action tagged with a comment.
/// </summary>
public sealed class IptablesBackend(string chain = "FLOWCOLLECTOR") : IMitigationBackend
{
    public ActionKind Kind => ActionKind.Iptables;

    public bool CanList => true;

    public bool IsReachable => true;

    public bool TryPrepare(out string failure)
    {
        foreach (var tool in Tools())
        {
            CommandRunner.Run(tool, ["-w", "-t", "raw", "-N", chain]);
            if (!CommandRunner.Run(tool, ["-w", "-t", "raw", "-C", "PREROUTING", "-j", chain]).Succeeded)
            {
                var jump = CommandRunner.Run(tool, ["-w", "-t", "raw", "-I", "PREROUTING", "-j", chain]);
                if (!jump.Succeeded)
                {
                    failure = $"{tool}: {jump.Reason}";
                    return false;
                }
            }
        }

        failure = string.Empty;
        return true;
    }

    public ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(rule);
        var tool = rule.IsIPv6 ? "ip6tables" : "iptables";
        string[] arguments = ["-w", "-t", "raw", "-A", chain, .. rule.ToIptables(), "-m", "comment", "--comment", RuleComments.For(action.Id, action.IncidentId), "-j", "DROP"];
        command = $"{tool} {string.Join(' ', arguments)}";
        var result = CommandRunner.Run(tool, arguments);
        failure = result.Succeeded ? string.Empty : $"{tool}: {result.Reason}";
        return result.Succeeded ? ApplyOutcome.Applied : ApplyOutcome.Failed;
    }

    public bool TryWithdraw(MitigationAction action, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        var actionId = action.Id;
        foreach (var tool in Tools())
        {
            foreach (var (number, id, _) in List(tool))
            {
                if (id == actionId)
                {
                    var result = CommandRunner.Run(tool, ["-w", "-t", "raw", "-D", chain, number.ToString(CultureInfo.InvariantCulture)]);
                    failure = result.Succeeded ? string.Empty : $"{tool}: {result.Reason}";
                    return result.Succeeded;
                }
            }
        }

        failure = string.Empty;
        return true;
    }

    public IReadOnlyList<InstalledRule>? Installed(out string failure)
    {
        failure = string.Empty;
        return Tools().SelectMany(List).Select(r => new InstalledRule(r.ActionId, r.Packets)).ToList();
    }

    public bool TryRemoveAll(out string failure)
    {
        failure = string.Empty;
        foreach (var tool in Tools())
        {
            CommandRunner.Run(tool, ["-w", "-t", "raw", "-D", "PREROUTING", "-j", chain]);
            CommandRunner.Run(tool, ["-w", "-t", "raw", "-F", chain]);
            var deleted = CommandRunner.Run(tool, ["-w", "-t", "raw", "-X", chain]);
            if (!deleted.Succeeded && !deleted.Reason.Contains("No chain", StringComparison.OrdinalIgnoreCase) && !deleted.Reason.Contains("does not exist", StringComparison.OrdinalIgnoreCase))
            {
                failure = $"{tool}: {deleted.Reason}";
            }
        }

        return failure.Length == 0;
    }

    private static readonly string[] AllTools = ["iptables", "ip6tables"];

    private static IEnumerable<string> Tools() => AllTools.Where(t => CommandRunner.Find(t) is not null);

    /// <summary>(rule number, action id, packets) of our rules, from <c>-L -v -x -n --line-numbers</c>.</summary>
    private List<(int Number, long ActionId, long Packets)> List(string tool)
    {
        var rules = new List<(int, long, long)>();
        var result = CommandRunner.Run(tool, ["-w", "-t", "raw", "-L", chain, "-v", "-x", "-n", "--line-numbers"]);
        if (!result.Succeeded)
        {
            return rules;
        }

        foreach (var line in result.Output.Split('\n'))
        {
            var start = line.IndexOf("/* ", StringComparison.Ordinal);
            var end = line.IndexOf(" */", StringComparison.Ordinal);
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (start < 0 || end <= start || fields.Length < 2
                || !RuleComments.TryParse(line[(start + 3)..end], out var actionId)
                || !int.TryParse(fields[0], CultureInfo.InvariantCulture, out var number)
                || !long.TryParse(fields[1], CultureInfo.InvariantCulture, out var packets))
            {
                continue;
            }

            rules.Add((number, actionId, packets));
        }

        return rules;
    }
}
