using System.CommandLine;
using System.Globalization;
using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Configuration;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Alerts.Channels;
using Microsoft.Extensions.DependencyInjection;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector alerts</c>: the deliveries in the outbox, newest first (<c>--pending</c>: what is still to go);
/// <c>alerts test [CHANNEL]</c> sends a test event to every configured channel (or one) and prints each answer,
/// exiting non-zero when any channel did not take it.
/// </summary>
internal static class AlertsCommand
{
    /// <summary>Exit code when a channel did not accept the test (sysexits EX_UNAVAILABLE).</summary>
    public const int ChannelFailed = 69;

    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var pending = new Option<bool>("--pending") { Description = "Only deliveries not yet sent nor given up" };
        var format = new Option<string>("--format") { Description = "table (default) or jsonl: one JSON object per line, as /api/alerts", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");
        var command = new Command("alerts", "List alert deliveries, or test the channels") { pending, format };
        arguments.AddTo(command);
        command.SetAction(parse => List(arguments.Read(parse), parse.GetValue(pending), parse.GetValue(format) ?? "table", Console.Out));

        var channel = new Argument<string?>("CHANNEL") { Description = "Only this channel (by name)", Arity = ArgumentArity.ZeroOrOne };
        var test = new Command("test", "Send a test event to every channel (or one) and print each answer") { channel };
        arguments.AddTo(test);
        test.SetAction((parse, cancellation) => TestAsync(arguments.Read(parse), parse.GetValue(channel), Console.Out, cancellation));
        command.Subcommands.Add(test);
        return command;
    }

    public static int List(CommandLineOverrides overrides, bool pendingOnly, string format, TextWriter output)
    {
        if (!StoreArguments.TryLocate(overrides, out _, out var path, out var exit))
        {
            return exit;
        }

        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"no database at {path}: the collector has not run with this data directory");
            return 0;
        }

        if (!AlertOutbox.TryOpen(path, out var outbox, out var error))
        {
            Console.Error.WriteLine($"flowcollector: {error}");
            return RunCommand.StartError;
        }

        using (outbox)
        {
            var deliveries = outbox!.List(pendingOnly);
            if (format == "jsonl")
            {
                foreach (var delivery in deliveries)
                {
                    output.WriteLine(AlertDeliveryJson.Line(delivery));
                }

                return 0;
            }

            output.WriteLine($"{"INCIDENT",8}  {"CHANNEL",-14}  {"EVENT",-9}  {"STATE",-7}  {"TRIES",5}  {"CREATED (UTC)",-19}  {"SENT (UTC)",-19}  {"ID",-36}  LAST ANSWER");
            foreach (var d in deliveries)
            {
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{d.IncidentId,8}  {d.Channel,-14}  {AlertEventNames.Name(d.Event),-9}  {AlertDeliveryJson.StateName(d.State),-7}  {d.Attempts,5}  {Time(d.CreatedAt),-19}  {Time(d.SentAt),-19}  {d.Id,-36}  {d.Answer ?? "-"}"));
            }
        }

        return 0;
    }

    public static async Task<int> TestAsync(CommandLineOverrides overrides, string? only, TextWriter output, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(output);
        var loaded = ConfigurationLoader.Load(overrides);
        if (loaded.Errors.Count > 0)
        {
            ConfigurationArguments.Report(loaded.Errors);
            return RunCommand.ConfigurationError;
        }

        var options = loaded.Options;
        if (options.Alerts.Channels.Count == 0)
        {
            Console.Error.WriteLine("no alert channel is configured (Alerts:Channels)");
            return ChannelFailed;
        }

        if (only is not null && options.Alerts.Channels.All(c => c.Name != only))
        {
            Console.Error.WriteLine($"no channel named '{only}' (Alerts:Channels names {string.Join(", ", options.Alerts.Channels.Select(c => c.Name))})");
            return RunCommand.ConfigurationError;
        }

        using var services = AlertService.AddAlertHttp(new ServiceCollection(), options.Alerts).BuildServiceProvider();
        var http = services.GetRequiredService<IHttpClientFactory>();
        if (!AlertChannels.TryCreate(options.Alerts, () => http.CreateClient(AlertChannels.HttpClientName), TimeProvider.System, out var channels, out var error))
        {
            Console.Error.WriteLine($"configuration: {error}");
            return RunCommand.ConfigurationError;
        }

        var node = options.Node.EffectiveName();
        var sends = channels.Where(c => only is null || c.Name == only).Select(async channel =>
        {
            var sample = AlertEvent.Sample(node, TimeProvider.System.GetUtcNow(), AlertEvent.LinkTo(options.Alerts.BaseUrl, 0));
            using var message = AlertMessage.Parse(sample.ToJson());
            return (Channel: channel, Answer: await channel.SendAsync(message, cancellation).ConfigureAwait(false));
        }).ToList();
        var failed = 0;
        foreach (var (channel, answer) in await Task.WhenAll(sends).ConfigureAwait(false))
        {
            var ok = answer.Outcome is DeliveryOutcome.Sent or DeliveryOutcome.Skipped;
            failed += ok ? 0 : 1;
            output.WriteLine($"{channel.Name} ({channel.Type}): {(ok ? "ok" : "FAILED")}: {answer.Detail}");
        }

        return failed == 0 ? 0 : ChannelFailed;
    }

    private static string Time(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
}
