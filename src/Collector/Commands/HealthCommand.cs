using System.CommandLine;
using System.Net;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector health</c>: asks a running collector's /healthz and exits 0 when it is ok, 1 when it is degraded,
/// 69 when it does not answer. A container's health check and a monitoring script need no HTTP client of their own.
/// </summary>
internal static class HealthCommand
{
    /// <summary>Exit code when the collector answered 503: running, not doing its job fully.</summary>
    public const int Degraded = 1;

    /// <summary>Exit code when nothing answered (sysexits EX_UNAVAILABLE).</summary>
    public const int Unreachable = 69;

    public static Command Create()
    {
        var http = new Option<string>("--http") { Description = "ADDRESS:PORT of the collector's HTTP endpoints", DefaultValueFactory = _ => "127.0.0.1:9750" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the answer", DefaultValueFactory = _ => 5 };
        var command = new Command("health", "Ask a running collector's /healthz: exit 0 ok, 1 degraded, 69 no answer") { http, timeout };
        command.SetAction((parse, cancellation) => CheckAsync(parse.GetValue(http)!, parse.GetValue(timeout), Console.Out, cancellation));
        return command;
    }

    public static async Task<int> CheckAsync(string http, double timeoutSeconds, TextWriter output, CancellationToken cancellation)
    {
        if (!Uri.TryCreate($"http://{http}/healthz", UriKind.Absolute, out var uri))
        {
            Console.Error.WriteLine($"flowcollector: --http: '{http}' is not ADDRESS:PORT");
            return RunCommand.ConfigurationError;
        }

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(timeoutSeconds) };
        try
        {
            using var response = await client.GetAsync(uri, cancellation).ConfigureAwait(false);
            await output.WriteLineAsync(await response.Content.ReadAsStringAsync(cancellation).ConfigureAwait(false)).ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK ? 0 : Degraded;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"flowcollector: no answer from {uri}: {exception.Message}");
            return Unreachable;
        }
    }
}
