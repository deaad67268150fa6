using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// FlowSpec or RTBH announcements through ExaBGP's relay (<see cref="ExaBgpSpeaker"/>): an action is applied by
/// sending its recorded announcement and withdrawn by withdrawing its route. Announcements cannot be listed back;
/// ExaBGP answers <c>done</c> to the withdrawal of a route it does not have, so a withdrawal is always safe to send.
/// </summary>
public sealed class ExaBgpBackend(ActionKind kind, ExaBgpSpeaker speaker) : IMitigationBackend
{
    public ActionKind Kind { get; } = kind is ActionKind.FlowSpec or ActionKind.Rtbh ? kind : throw new ArgumentOutOfRangeException(nameof(kind), kind, "ExaBGP announces flowspec or rtbh");

    public bool CanList => false;

    public bool IsReachable => speaker.IsConnected;

    public bool TryPrepare(out string failure)
    {
        failure = string.Empty;
        return true;
    }

    public ApplyOutcome TryApply(MitigationAction action, MitigationRule rule, out string command, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        command = action.Command;
        if (speaker.TrySend(command, out var sent, out failure))
        {
            return ApplyOutcome.Applied;
        }

        return sent ? ApplyOutcome.Failed : ApplyOutcome.NotReached;
    }

    public bool TryWithdraw(MitigationAction action, out string failure)
    {
        ArgumentNullException.ThrowIfNull(action);
        return speaker.TrySend(ExaBgpCommands.WithdrawalOf(action.Command), out failure);
    }

    public IReadOnlyList<InstalledRule>? Installed(out string failure)
    {
        failure = "ExaBGP's announcements cannot be listed";
        return null;
    }

    public bool TryRemoveAll(out string failure)
    {
        failure = string.Empty;
        return true;
    }
}
