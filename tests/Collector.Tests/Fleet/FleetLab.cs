using System.Diagnostics;
using System.Globalization;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Fleet;

/// <summary>
/// A real nats-server with JetStream and a real PostgreSQL (initdb and pg_ctl in a temporary directory, run as the
/// postgres user when the tests run as root), both on loopback ports of their own. Either can be killed hard and
/// started again on the same files.
/// </summary>
internal sealed class FleetLab : IAsyncDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("flowcollector-fleet-");
    private readonly string _postgresBin;
    private readonly NatsServer _nats = new();

    private FleetLab(string postgresBin)
    {
        _postgresBin = postgresBin;
        PostgresPort = CollectorProcess.FreeTcpPort();
    }

    public int PostgresPort { get; }

    public string NatsUrl => _nats.Url;

    public string ConnectionString => $"Host=127.0.0.1;Port={PostgresPort};Username=flowcollector;Database=flowcollector;Timeout=5";

    /// <summary>The settings a node or the fleet service needs to reach both.</summary>
    public string[] Settings(params string[] more) =>
        ["--set", $"Fleet:Nats:Url={NatsUrl}", "--set", $"Fleet:Postgres:ConnectionString={ConnectionString}", .. more];

    /// <summary>Starts both, or skips the test when nats-server or PostgreSQL is missing (fails instead under CI).</summary>
    public static async Task<FleetLab> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault() : null;
        NatsServer.Require();
        Flowcollector.Require(bin is not null, "PostgreSQL server binaries (Debian package postgresql)");
        var lab = new FleetLab(bin!);
        await lab.StartPostgresAsync();
        await lab.StartNatsAsync();
        return lab;
    }

    public Task StartNatsAsync() => _nats.StartAsync();

    /// <summary>kill -9 of nats-server: what JetStream acknowledged is on disk.</summary>
    public Task KillNatsAsync() => _nats.KillAsync();

    private async Task StartPostgresAsync()
    {
        var data = Path.Combine(_root.FullName, "postgres");
        Directory.CreateDirectory(data);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", "-R", "postgres", _root.FullName);
        }

        PostgresTool(asRoot, "initdb", "-D", Path.Combine(data, "cluster"), "-A", "trust", "-U", "flowcollector", "--no-sync");
        PostgresTool(asRoot, "pg_ctl", "-D", Path.Combine(data, "cluster"), "-l", Path.Combine(data, "log"), "-w", "-o", $"-p {PostgresPort} -h 127.0.0.1 -k {data} -c fsync=off", "start");
        PostgresTool(asRoot, "createdb", "-h", "127.0.0.1", "-p", PostgresPort.ToString(CultureInfo.InvariantCulture), "-U", "flowcollector", "flowcollector");
        await Task.CompletedTask;
    }

    /// <summary>A query's single value, through psql.</summary>
    public string Query(string sql) =>
        PostgresTool(Environment.UserName == "root", "psql", "-h", "127.0.0.1", "-p", PostgresPort.ToString(CultureInfo.InvariantCulture), "-U", "flowcollector", "-d", "flowcollector", "-At", "-c", sql).Trim();

    private string PostgresTool(bool asRoot, string tool, params string[] arguments)
    {
        var path = Path.Combine(_postgresBin, tool);
        return asRoot ? Run("runuser", ["-u", "postgres", "--", path, .. arguments]) : Run(path, arguments);
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

    public async ValueTask DisposeAsync()
    {
        await _nats.DisposeAsync();

        try
        {
            PostgresTool(Environment.UserName == "root", "pg_ctl", "-D", Path.Combine(_root.FullName, "postgres", "cluster"), "-m", "immediate", "stop");
        }
        catch (Xunit.Sdk.XunitException)
        {
            // Already stopped.
        }

        _root.Delete(recursive: true);
    }
}
