using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Tests.Mitigation;

/// <summary>
/// A firewall table held in memory: what the engine installs can be listed back with counters, and the next
/// applies, withdrawals or listings can be made to fail, as a busy or broken nft would.
/// </summary>
internal sealed class FakeRuleBackend(ActionKind kind = ActionKind.Nftables) : IMitigationBackend
{
    public Dictionary<long, long> Rules { get; } = [];

    public List<string> Calls { get; } = [];

    public int FailApplies { get; set; }

    public int FailWithdrawals { get; set; }

    public bool FailListing { get; set; }

    public bool TableExists { get; set; }

    public ActionKind Kind => kind;

    public bool CanList => true;

    public bool IsReachable => true;

    public bool TryPrepare(out string failure)
    {
        Calls.Add("prepare");
        TableExists = true;
        failure = string.Empty;
        return true;
    }

    public ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure)
    {
        Calls.Add($"apply {action.Id}");
        command = $"add rule {action.Rule}";
        if (FailApplies > 0)
        {
            FailApplies--;
            failure = "nft: resource busy";
            return ApplyOutcome.Failed;
        }

        failure = string.Empty;
        Rules[action.Id] = 0;
        return ApplyOutcome.Applied;
    }

    public bool TryWithdraw(MitigationAction action, out string failure)
    {
        Calls.Add($"withdraw {action.Id}");
        if (FailWithdrawals > 0)
        {
            FailWithdrawals--;
            failure = "nft: resource busy";
            return false;
        }

        failure = string.Empty;
        Rules.Remove(action.Id);
        return true;
    }

    public IReadOnlyList<InstalledRule>? Installed(out string failure)
    {
        failure = FailListing ? "nft: permission denied" : string.Empty;
        return FailListing ? null : [.. Rules.Select(r => new InstalledRule(r.Key, r.Value))];
    }

    public bool TryRemoveAll(out string failure)
    {
        Calls.Add("remove table");
        failure = string.Empty;
        TableExists = false;
        Rules.Clear();
        return true;
    }
}

/// <summary>A BGP speaker's relay: what was announced and withdrawn, in order, and whether anything is connected.</summary>
internal sealed class FakeAnnouncer(ActionKind kind) : IMitigationBackend
{
    public List<string> Sent { get; } = [];

    public bool Connected { get; set; } = true;

    public ActionKind Kind => kind;

    public bool CanList => false;

    public bool IsReachable => Connected;

    public bool TryPrepare(out string failure)
    {
        failure = string.Empty;
        return true;
    }

    public ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure)
    {
        command = action.Command;
        if (!Connected)
        {
            failure = "no ExaBGP relay is connected";
            return ApplyOutcome.NotReached;
        }

        failure = string.Empty;
        Sent.Add(command);
        return ApplyOutcome.Applied;
    }

    public bool TryWithdraw(MitigationAction action, out string failure)
    {
        if (!Connected)
        {
            failure = "no ExaBGP relay is connected";
            return false;
        }

        failure = string.Empty;
        Sent.Add(ExaBgpCommands.WithdrawalOf(action.Command));
        return true;
    }

    public IReadOnlyList<InstalledRule>? Installed(out string failure)
    {
        failure = "announcements cannot be listed";
        return null;
    }

    public bool TryRemoveAll(out string failure)
    {
        failure = string.Empty;
        return true;
    }
}
