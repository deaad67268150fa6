using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>
/// A real <c>flowcollector run</c> in a child process on free loopback ports, with its HTTP endpoints at hand.
/// Killed (with its tree) when disposed.
/// </summary>
internal sealed class CollectorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly DirectoryInfo _data;
    private readonly bool _ownsData;

    private CollectorProcess(Process process, DirectoryInfo data, bool ownsData, int netflow, int ipfix, int sflow, int http)
    {
        _process = process;
        _data = data;
        _ownsData = ownsData;
        NetFlowPort = netflow;
        IpfixPort = ipfix;
        SFlowPort = sflow;
        Http = new Uri($"http://127.0.0.1:{http}");
        Client = new HttpClient { BaseAddress = Http, Timeout = TimeSpan.FromSeconds(10) };
    }

    public int NetFlowPort { get; }

    public int IpfixPort { get; }

    public int SFlowPort { get; }

    public Uri Http { get; }

    public HttpClient Client { get; }

    public DirectoryInfo DataDirectory => _data;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the collector and waits until /healthz answers (ok, or degraded: it runs). Extra arguments go after the ports.</summary>
    public static Task<CollectorProcess> StartAsync(params string[] arguments) => StartAsync(null, null, arguments);

    /// <summary>
    /// Starts on a given data directory (kept when disposed) and NetFlow port, as a restart of an earlier process would.
    /// </summary>
    public static Task<CollectorProcess> StartAsync(DirectoryInfo? dataDirectory, int? netflowPort, params string[] arguments) =>
        StartAsync(null, dataDirectory, netflowPort, arguments);

    /// <summary>Starts a published executable (the Native AOT binary) instead of the build under test.</summary>
    public static Task<CollectorProcess> StartExecutableAsync(string executable, params string[] arguments) =>
        StartAsync(executable, null, null, arguments);

    /// <summary>Starts with extra environment variables (as a service manager sets them).</summary>
    public static Task<CollectorProcess> StartWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartAsync(null, null, null, arguments, environment);

    /// <summary>Starts <c>flowcollector fleet</c> on a data directory (kept when disposed when given), on a free HTTP port.</summary>
    public static Task<CollectorProcess> StartFleetAsync(DirectoryInfo? dataDirectory, params string[] arguments) =>
        StartAsync(null, dataDirectory, null, arguments, command: "fleet");

    private static async Task<CollectorProcess> StartAsync(string? executable, DirectoryInfo? dataDirectory, int? netflowPort, string[] arguments, IReadOnlyDictionary<string, string>? environment = null, string command = "run")
    {
        var netflow = netflowPort ?? FreeUdpPort();
        var ipfix = FreeUdpPort();
        var sflow = FreeUdpPort();
        var http = FreeTcpPort();
        var data = dataDirectory ?? Directory.CreateTempSubdirectory("flowcollector-data-");
        var start = new ProcessStartInfo(executable ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        if (executable is null)
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"));
        }

        string[] common = command == "run"
            ? ["run", "--netflow-port", Invariant(netflow), "--ipfix-port", Invariant(ipfix), "--sflow-port", Invariant(sflow),
                "--http", $"127.0.0.1:{http}", "--data-dir", data.FullName, "--set", "Listeners:Address=127.0.0.1"]
            : [command, "--http", $"127.0.0.1:{http}", "--data-dir", data.FullName];
        foreach (var argument in common.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        var collector = new CollectorProcess(process, data, dataDirectory is null, netflow, ipfix, sflow, http);
        process.OutputDataReceived += (_, e) => collector.Append(e.Data);
        process.ErrorDataReceived += (_, e) => collector.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (await Eventually.Within(collector.AnswersAsync, seconds: 30))
        {
            return collector;
        }

        await collector.DisposeAsync();
        Assert.Fail($"flowcollector did not answer /healthz in 30 s:\n{collector.Output}");
        return collector;
    }

    /// <summary>Whether /healthz answers (ok or degraded); fails the test at once if the process has exited.</summary>
    private async Task<bool> AnswersAsync()
    {
        if (_process.HasExited)
        {
            Assert.Fail($"flowcollector exited with {_process.ExitCode}:\n{Output}");
        }

        try
        {
            using var response = await Client.GetAsync(new Uri("/healthz", UriKind.Relative));
            return response.IsSuccessStatusCode || response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async Task<string> GetAsync(string path) => await Client.GetStringAsync(new Uri(path, UriKind.Relative));

    /// <summary>The sum of every series of a metric whose labels include the given ones.</summary>
    public async Task<double> MetricAsync(string name, params (string Label, string Value)[] labels)
    {
        var total = 0.0;
        foreach (var line in (await GetAsync("/metrics")).Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || (line.Length > name.Length && line[name.Length] is not ('{' or ' ')))
            {
                continue;
            }

            if (labels.All(l => line.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>Polls until the metric reaches the value; returns the last value read, for the caller to assert on.</summary>
    public async Task<double> WaitForMetricAsync(string name, double expected, TimeSpan timeout, params (string Label, string Value)[] labels)
    {
        var value = 0.0;
        await Eventually.Within(async () => Math.Abs((value = await MetricAsync(name, labels)) - expected) < 1e-6 * Math.Max(1, expected), timeout.TotalSeconds, 250);
        return value;
    }

    /// <summary>
    /// Waits until the detector holds keys and none of them is still learning (<c>flowcollector_detection_learning_keys</c>
    /// reads 0): the traffic so far is its normal, and an attack from now on is judged against it.
    /// </summary>
    public async Task WaitForCalibratedAsync() =>
        await Eventually.True(
            async () => await MetricAsync("flowcollector_detection_keys") > 0 && await MetricAsync("flowcollector_detection_learning_keys") == 0,
            "detection calibrated on the normal traffic",
            pollMilliseconds: 250);

    /// <summary>SIGTERM, as systemd stops a service; waits for the exit and returns its code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(deadline.Token);
        return _process.ExitCode;
    }

    /// <summary>kill -9: no shutdown code runs.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_ownsData)
        {
            _data.Delete(recursive: true);
        }
    }

    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
