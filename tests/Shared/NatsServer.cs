using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FlowCollector.Tests.Support;

/// <summary>
/// A real nats-server with JetStream on a loopback port of its own, its store in a directory that outlives a kill,
/// so that it can be killed hard and started again on the same messages.
/// </summary>
internal sealed class NatsServer : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/nats-server";

    private readonly DirectoryInfo _store = Directory.CreateTempSubdirectory("flowcollector-nats-");
    private Process? _process;

    public NatsServer(int? port = null) => Port = port ?? FreePort();

    public int Port { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Skips (locally) or fails (under CI) without nats-server.</summary>
    public static void Require() => Prerequisites.Require(File.Exists(Executable), "nats-server (Debian package nats-server)");

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-js", "-sd", _store.FullName, "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.True(() => Task.FromResult(Listens()), "nats-server listens", seconds: 20);
    }

    /// <summary>kill -9: what JetStream acknowledged is in its store.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private bool Listens()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        _store.Delete(recursive: true);
    }
}
