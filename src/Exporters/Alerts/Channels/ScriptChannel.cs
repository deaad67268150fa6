using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>
/// Runs a program with the event document on its standard input (the habit operators bring from other collectors,
/// with the whole event instead of positional arguments), the main fields also in the environment for short shell
/// scripts. Exit 0 is delivered; another exit or no exit within the timeout (the process tree is then killed) is
/// retried.
/// </summary>
public sealed class ScriptChannel(AlertChannelOptions options) : IAlertChannel
{
    private const int ErrorTail = 300;

    public string Name => options.Name;

    public string Type => options.Type;

    public RateLimit Limit { get; } = options.LimitOr(RateLimit.None);

    public TimeSpan? Repeat => null;

    public async Task<DeliveryAnswer> SendAsync(AlertMessage message, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(message);
        var start = new ProcessStartInfo(options.Command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in options.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["FLOWCOLLECTOR_EVENT"] = AlertEventNames.Name(message.Kind);
        start.Environment["FLOWCOLLECTOR_EVENT_ID"] = message.Id;
        start.Environment["FLOWCOLLECTOR_INCIDENT_ID"] = message.IncidentId.ToString(CultureInfo.InvariantCulture);
        start.Environment["FLOWCOLLECTOR_ATTACK_TYPE"] = message.AttackType;
        start.Environment["FLOWCOLLECTOR_SEVERITY"] = message.Severity;
        start.Environment["FLOWCOLLECTOR_TARGET"] = message.Target;
        start.Environment["FLOWCOLLECTOR_NODE"] = message.Node;

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception exception)
        {
            return new DeliveryAnswer(DeliveryOutcome.Retry, $"cannot run {options.Command}: {exception.Message}");
        }

        var output = process.StandardOutput.ReadToEndAsync(cancellation);
        var errors = process.StandardError.ReadToEndAsync(cancellation);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(message.Json, timeout.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The script did not read its input (it exited first): its exit status decides.
            }

            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellation.IsCancellationRequested)
            {
                throw;
            }

            return new DeliveryAnswer(DeliveryOutcome.Retry, string.Create(CultureInfo.InvariantCulture, $"{options.Command} did not exit within {options.TimeoutSeconds} s; killed"));
        }

        var said = Tail(await errors.ConfigureAwait(false)) is { Length: > 0 } stderr ? stderr : Tail(await output.ConfigureAwait(false));
        return process.ExitCode == 0
            ? new DeliveryAnswer(DeliveryOutcome.Sent, "exit 0" + (said.Length > 0 ? ": " + said : string.Empty))
            : new DeliveryAnswer(DeliveryOutcome.Retry, string.Create(CultureInfo.InvariantCulture, $"exit {process.ExitCode}{(said.Length > 0 ? ": " + said : string.Empty)}"));
    }

    private static string Tail(string text)
    {
        var trimmed = text.ReplaceLineEndings(" ").Trim();
        return trimmed.Length > ErrorTail ? new StringBuilder("…").Append(trimmed.AsSpan(trimmed.Length - ErrorTail)).ToString() : trimmed;
    }
}
