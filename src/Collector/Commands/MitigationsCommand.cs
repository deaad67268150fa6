using System.CommandLine;
using System.Globalization;
using FlowCollector.Collector.Configuration;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector mitigations</c>: the actions in the database, newest first; <c>mitigations withdraw ID</c> asks
/// the running collector (or the next one to start) to take one back, and waits for it to be gone.
/// </summary>
internal static class MitigationsCommand
{
    /// <summary>Exit code when the withdrawal was requested but has not happened yet (sysexits EX_TEMPFAIL).</summary>
    public const int NotWithdrawn = 75;

    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var active = new Option<bool>("--active") { Description = "Only actions in force (not withdrawn)" };
        var format = new Option<string>("--format") { Description = "table (default) or jsonl: one JSON object per line, as /api/mitigations", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");
        var command = new Command("mitigations", "List mitigation actions, or withdraw one by hand") { active, format };
        arguments.AddTo(command);
        command.SetAction(parse => List(arguments.Read(parse), parse.GetValue(active), parse.GetValue(format) ?? "table", Console.Out));

        var id = new Argument<long>("ID") { Description = "The action's id (from the list)" };
        var wait = new Option<int>("--wait") { Description = "Seconds to wait for the collector to withdraw it (default 10)", DefaultValueFactory = _ => 10 };
        var withdraw = new Command("withdraw", "Withdraw one action; the collector will not apply that kind again for its incident") { id, wait };
        arguments.AddTo(withdraw);
        withdraw.SetAction(parse => Withdraw(arguments.Read(parse), parse.GetValue(id), parse.GetValue(wait), Console.Out));
        command.Subcommands.Add(withdraw);
        return command;
    }

    public static int List(CommandLineOverrides overrides, bool activeOnly, string format, TextWriter output)
    {
        if (!StoreArguments.TryOpen(overrides, out var store, out var exit))
        {
            return exit;
        }

        using (store)
        {
            var actions = store!.Actions(activeOnly);
            if (format == "jsonl")
            {
                foreach (var action in actions)
                {
                    output.WriteLine(MitigationJson.Line(action));
                }

                return 0;
            }

            output.WriteLine($"{"ID",6}  {"INCIDENT",8}  {"KIND",-9}  {"STATE",-9}  {"APPLIED (UTC)",-19}  {"WITHDRAWN (UTC)",-19}  {"DROPPED",10}  RULE");
            foreach (var action in actions)
            {
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{action.Id,6}  {action.IncidentId,8}  {ActionNames.Name(action.Kind),-9}  {ActionNames.Name(action.State),-9}  {Time(action.AppliedAt),-19}  {Time(action.WithdrawnAt),-19}  {(action.Dropped?.ToString(CultureInfo.InvariantCulture) ?? "-"),10}  {action.Rule}"));
            }
        }

        return 0;
    }

    public static int Withdraw(CommandLineOverrides overrides, long id, int waitSeconds, TextWriter output)
    {
        if (!StoreArguments.TryOpen(overrides, out var store, out var exit))
        {
            return exit;
        }

        using (store)
        {
            if (!store!.RequestWithdraw(id))
            {
                Console.Error.WriteLine(store.Action(id) is null ? $"no action {id}" : $"action {id} is already withdrawn");
                return 1;
            }

            var deadline = DateTime.UtcNow.AddSeconds(waitSeconds);
            while (DateTime.UtcNow < deadline)
            {
                if (store.Action(id) is { WithdrawnAt: not null } withdrawn)
                {
                    output.WriteLine($"action {id} ({ActionNames.Name(withdrawn.Kind)}) withdrawn at {Time(withdrawn.WithdrawnAt)}");
                    return 0;
                }

                Thread.Sleep(200);
            }

            Console.Error.WriteLine($"action {id}: withdrawal requested, but no running collector took it back within {waitSeconds} s; it is still in force until a collector starts and withdraws it");
            return NotWithdrawn;
        }
    }

    private static string Time(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
}
