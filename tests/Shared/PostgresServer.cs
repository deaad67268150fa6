using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FlowCollector.Tests.Support;

/// <summary>
/// A real PostgreSQL cluster made with initdb in a temporary directory and started with pg_ctl on a loopback port
/// of its own (as the postgres user when the tests run as root: initdb refuses root), with a database
/// <c>flowcollector</c> owned by the user <c>flowcollector</c>.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("flowcollector-postgres-");
    private readonly string _bin;

    private PostgresServer(string bin)
    {
        _bin = bin;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=flowcollector;Database=flowcollector;Timeout=5";

    private static bool AsRoot => Environment.UserName == "root";

    /// <summary>Starts a cluster, or skips the test without PostgreSQL's server binaries (fails under CI).</summary>
    public static PostgresServer Start()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
            : null;
        Prerequisites.Require(bin is not null, "PostgreSQL server binaries (Debian package postgresql)");
        var server = new PostgresServer(bin!);
        var data = Path.Combine(server._root.FullName, "cluster");
        if (AsRoot)
        {
            Run("chown", "postgres", server._root.FullName);
        }

        server.Tool("initdb", "-D", data, "-A", "trust", "-U", "flowcollector", "--no-sync");
        server.Tool("pg_ctl", "-D", data, "-l", Path.Combine(server._root.FullName, "log"), "-w", "-o", $"-p {server.Port} -h 127.0.0.1 -k {server._root.FullName} -c fsync=off", "start");
        server.Tool("createdb", "-h", "127.0.0.1", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "-U", "flowcollector", "flowcollector");
        return server;
    }

    /// <summary>A query's result, unaligned, through psql.</summary>
    public string Query(string sql) =>
        Tool("psql", "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "flowcollector", "-d", "flowcollector", "-At", "-c", sql).Trim();

    private string Tool(string tool, params string[] arguments)
    {
        var path = Path.Combine(_bin, tool);
        return AsRoot ? Run("runuser", ["-u", "postgres", "--", path, .. arguments]) : Run(path, arguments);
    }

    private static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/tmp" };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error}");
        return output.Result;
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            Tool("pg_ctl", "-D", Path.Combine(_root.FullName, "cluster"), "-m", "immediate", "stop");
        }
        catch (Xunit.Sdk.XunitException)
        {
            // Stopped already.
        }

        _root.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }
}
