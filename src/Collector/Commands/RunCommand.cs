using System.CommandLine;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Runtime;
using FlowCollector.Decoders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace FlowCollector.Collector.Commands;

/// <summary>The options <c>run</c> and <c>check-config</c> share: where the configuration is, and what overrides it.</summary>
internal sealed class ConfigurationArguments
{
    public Option<string?> Config { get; } = new("--config") { Description = $"JSON configuration file (default {CollectorOptions.DefaultConfigPath}; absent: embedded defaults)" };

    public Option<int?> NetFlowPort { get; } = new("--netflow-port") { Description = "UDP port for NetFlow v5/v9 (default 2055; 0 disables)" };

    public Option<int?> IpfixPort { get; } = new("--ipfix-port") { Description = "UDP port for IPFIX (default 4739; 0 disables)" };

    public Option<int?> SFlowPort { get; } = new("--sflow-port") { Description = "UDP port for sFlow v5 (default 6343; 0 disables)" };

    public Option<string?> Http { get; } = new("--http") { Description = "ADDRESS:PORT of /metrics, /healthz and /api (default 0.0.0.0:9750)" };

    public Option<string?> DataDirectory { get; } = new("--data-dir") { Description = "State directory (default /var/lib/flowcollector, else the user's data directory)" };

    public Option<string?> Node { get; } = new("--node") { Description = "This collector's name (default: the host name)" };

    public Option<string[]> Monitor { get; } = new("--monitor") { Description = "A monitored prefix whose destinations get their own rates (repeatable)", AllowMultipleArgumentsPerToken = false };

    public Option<int?> LearningSeconds { get; } = new("--learning-seconds") { Description = "Seconds each key learns under static floors before its learned threshold applies (default 300)" };

    public Option<string[]> Set { get; } = new("--set") { Description = "Any setting as KEY=VALUE, e.g. Aggregation:MaxDestinations=20000 (repeatable)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(NetFlowPort);
        command.Options.Add(IpfixPort);
        command.Options.Add(SFlowPort);
        command.Options.Add(Http);
        command.Options.Add(DataDirectory);
        command.Options.Add(Node);
        command.Options.Add(Monitor);
        command.Options.Add(LearningSeconds);
        command.Options.Add(Set);
    }

    /// <summary>Prints each configuration error (key and reason) to stderr.</summary>
    public static void Report(IReadOnlyList<string> errors)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine($"configuration: {error}");
        }
    }

    public CommandLineOverrides Read(ParseResult parse) => new()
    {
        ConfigPath = parse.GetValue(Config),
        NetFlowPort = parse.GetValue(NetFlowPort),
        IpfixPort = parse.GetValue(IpfixPort),
        SFlowPort = parse.GetValue(SFlowPort),
        Http = parse.GetValue(Http),
        DataDirectory = parse.GetValue(DataDirectory),
        Node = parse.GetValue(Node),
        Monitor = parse.GetValue(Monitor) ?? [],
        LearningSeconds = parse.GetValue(LearningSeconds),
        Settings = parse.GetValue(Set) ?? [],
    };
}

/// <summary><c>flowcollector run</c>: the appliance, under the Generic Host with systemd notification and logs.</summary>
internal static partial class RunCommand
{
    /// <summary>Exit code of a configuration that cannot be used (sysexits EX_CONFIG).</summary>
    public const int ConfigurationError = 78;

    /// <summary>Exit code when a listener, capture or the data directory cannot be opened (sysexits EX_UNAVAILABLE).</summary>
    public const int StartError = 69;

    /// <summary>Exit code when the database is damaged (sysexits EX_DATAERR): a restart would fail the same way.</summary>
    public const int DataError = 65;

    /// <summary>Exit code when the collector failed while running (sysexits EX_SOFTWARE), so a service manager restarts it.</summary>
    public const int RuntimeError = 70;

    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var command = new Command("run", "Run the collector: listeners, capture, /proc/net/dev, rates, metrics (the default command)");
        arguments.AddTo(command);
        command.SetAction(parse => Run(arguments.Read(parse)));
        return command;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "start-up memory returned: resident set {BeforeKiB} KiB -> {AfterKiB} KiB ({ImageKiB} KiB of executable pages unmapped)")]
    private static partial void LogStartupMemory(ILogger logger, long beforeKiB, long afterKiB, long imageKiB);

    [LoggerMessage(Level = LogLevel.Warning, Message = "start-up memory kept resident: {Reason}")]
    private static partial void LogStartupMemoryKept(ILogger logger, string reason);

    public static int Run(CommandLineOverrides overrides)
    {
        var loaded = ConfigurationLoader.Load(overrides);
        if (loaded.Errors.Count > 0)
        {
            ConfigurationArguments.Report(loaded.Errors);

            return ConfigurationError;
        }

        if (!Runtime.DataDirectory.TryResolve(loaded.Options.DataDirectory, out var dataDirectory, out var dataError))
        {
            Console.Error.WriteLine($"configuration: {dataError}");
            return StartError;
        }

        var database = Path.GetFullPath(loaded.Options.Storage.DatabasePath(dataDirectory));
        string[] locks = [Path.Combine(dataDirectory, "flowcollector.lock"), database + ".lock"];
        if (!InstanceLock.TryAcquire(Path.GetDirectoryName(database) == dataDirectory ? locks[..1] : locks, out var instance, out var lockError))
        {
            Console.Error.WriteLine($"flowcollector: {lockError}");
            return StartError;
        }

        using var held = instance;

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "flowcollector" });
        AddLogging(builder);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddFlowCollector(loaded.Options, dataDirectory);
        using var host = builder.Build();
        var startupLogger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FlowCollector");
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() =>
        {
            // Only a saving: without /proc (or madvise) the collector runs exactly as before.
            try
            {
                var returned = ResidentSet.ReturnStartupMemory(AppContext.BaseDirectory);
                LogStartupMemory(startupLogger, returned.ResidentBefore / 1024, returned.ResidentAfter / 1024, returned.ImagePages / 1024);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or OverflowException or DllNotFoundException or EntryPointNotFoundException)
            {
                LogStartupMemoryKept(startupLogger, exception.Message);
            }
        });
        return Serve(host);
    }

    /// <summary>Single-line UTC console logs, in journald's format with priorities under systemd (and its readiness protocol).</summary>
    internal static void AddLogging(HostApplicationBuilder builder)
    {
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            console.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        AddServiceManager(builder.Services);
    }

    /// <summary>The exit code of a part that could not start, by its reason.</summary>
    internal static int ExitCodeOf(StartupException exception) => exception.Failure switch
    {
        StartFailure.Configuration => ConfigurationError,
        StartFailure.DamagedData => DataError,
        _ => StartError,
    };

    /// <summary>
    /// Starts the host, then runs it until it stops. A part that cannot start ends it with the exit code of its
    /// reason. The host also stops when the second clock fails (a fault in the tick) and returns as after SIGTERM:
    /// the exit code must then say it failed, or a service manager would not restart it.
    /// </summary>
    internal static int Serve(IHost host)
    {
        var clock = host.Services.GetRequiredService<SecondClock>();
        try
        {
            host.Start();
        }
        catch (StartupException exception)
        {
            Console.Error.WriteLine($"flowcollector: {exception.Message}");
            return ExitCodeOf(exception);
        }

        var core = host.Services.GetRequiredService<CollectorCore>();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FlowCollector");
        var node = core.Node;
        var data = core.DataDirectory;
        LogStarted(logger, node, data);
        host.WaitForShutdown();
        return clock.ExecuteTask is { IsFaulted: true } ? RuntimeError : 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "flowcollector running as node {Node}, data in {DataDirectory}")]
    private static partial void LogStarted(ILogger logger, string node, string dataDirectory);

    /// <summary>
    /// systemd's readiness protocol and journald's log format. AddSystemd() recognises systemd by reading the parent's
    /// /proc/PID/comm, which the shipped unit's ProtectProc=invisible hides; NOTIFY_SOCKET, which systemd sets for a
    /// Type=notify service, says the same without /proc.
    /// </summary>
    private static void AddServiceManager(IServiceCollection services)
    {
        if (SystemdHelpers.IsSystemdService())
        {
            services.AddSystemd();
            return;
        }

        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")))
        {
            return;
        }

        services.Configure<ConsoleLoggerOptions>(options => options.FormatterName = ConsoleFormatterNames.Systemd);
        services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        services.AddSingleton<IHostLifetime, SystemdLifetime>();
    }
}

/// <summary><c>flowcollector check-config</c>: validates a configuration without starting anything.</summary>
internal static class CheckConfigCommand
{
    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var command = new Command("check-config", "Validate the configuration (file, environment, flags) and exit");
        arguments.AddTo(command);
        command.SetAction(parse =>
        {
            var loaded = ConfigurationLoader.Load(arguments.Read(parse));
            if (loaded.Errors.Count > 0)
            {
                ConfigurationArguments.Report(loaded.Errors);

                return RunCommand.ConfigurationError;
            }

            var options = loaded.Options;
            Console.WriteLine($"configuration OK ({loaded.ConfigPath ?? "no file: embedded defaults"})");
            Console.WriteLine($"  listeners: netflow {Port(options.Listeners.NetFlowPort)}, ipfix {Port(options.Listeners.IpfixPort)}, sflow {Port(options.Listeners.SFlowPort)} on {options.Listeners.Address}");
            Console.WriteLine($"  http: {(options.Http.Listen.Length > 0 ? options.Http.Listen : "off")}{(options.Http.ApiToken.Length > 0 ? ", /api/* with the API token (Http:ApiToken)" : string.Empty)}");
            Console.WriteLine($"  exporters heard: {(options.Listeners.AllowedExporters.Count > 0 ? string.Join(", ", options.Listeners.AllowedExporters.Select(IpPrefix.Parse)) : "any address (Listeners:AllowedExporters is empty)")}");
            Console.WriteLine($"  monitored prefixes: {(options.Monitor.Prefixes.Count > 0 ? string.Join(", ", options.Monitor.Prefixes.Select(IpPrefix.Parse)) : "none")}");
            Console.WriteLine($"  /proc/net/dev: {options.ProcNetDev.Mode}; capture: {(options.Capture.Interfaces.Count > 0 ? string.Join(", ", options.Capture.Interfaces) : "none")}");
            var mitigation = options.Mitigation;
            Console.WriteLine($"  mitigation: {(!mitigation.Enabled ? "off" : mitigation.DryRun ? "dry run" : "on")}{(mitigation.Enabled && mitigation.TrustAnyExporter ? ", acting on exports from any address (Mitigation:TrustAnyExporter)" : string.Empty)}");
            Console.WriteLine("  never acted on (mitigation allowlist):");
            foreach (var (prefix, source) in EffectiveLists.MitigationAllowlist(options))
            {
                Console.WriteLine($"    {prefix}  ({source})");
            }

            return 0;
        });
        return command;
    }

    private static string Port(int port) => port == 0 ? "off" : port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
