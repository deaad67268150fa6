using System.CommandLine;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Runtime;
using FlowCollector.Exporters.Fleet;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector fleet</c>: the fleet service, on the same configuration format as a node. Its own state (the
/// detector's baselines, its incidents, the alert outbox) lives in <c>fleet/</c> under the data directory, so that
/// it may share a host with a node.
/// </summary>
internal static partial class FleetCommand
{
    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var command = new Command("fleet", $"Run the fleet service: every node's incidents in PostgreSQL and one API, and detection on the nodes' summed traffic (Fleet:Nats:Url, Fleet:Postgres:ConnectionString; HTTP on {FleetNames.DefaultListen})");
        arguments.AddTo(command);
        command.SetAction(parse =>
        {
            var overrides = arguments.Read(parse);
            overrides.FleetService = true;
            return Run(overrides);
        });
        return command;
    }

    private static int Run(CommandLineOverrides overrides)
    {
        var loaded = ConfigurationLoader.Load(overrides);
        if (loaded.Errors.Count > 0)
        {
            ConfigurationArguments.Report(loaded.Errors);
            return RunCommand.ConfigurationError;
        }

        if (!DataDirectory.TryResolve(loaded.Options.DataDirectory, out var nodeDirectory, out var dataError))
        {
            Console.Error.WriteLine($"configuration: {dataError}");
            return RunCommand.StartError;
        }

        var dataDirectory = Path.Combine(nodeDirectory, "fleet");
        try
        {
            Directory.CreateDirectory(dataDirectory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"configuration: DataDirectory: cannot create {dataDirectory} ({exception.Message})");
            return RunCommand.StartError;
        }

        if (loaded.Options.Storage.Path.Length == 0)
        {
            loaded.Options.Storage.Path = Path.Combine(dataDirectory, "fleet.db");
        }

        if (!InstanceLock.TryAcquire([Path.Combine(dataDirectory, "fleet.lock")], out var instance, out var lockError))
        {
            Console.Error.WriteLine($"flowcollector: {lockError}");
            return RunCommand.StartError;
        }

        using var held = instance;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "flowcollector-fleet" });
        RunCommand.AddLogging(builder);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddFleet(loaded.Options, dataDirectory);
        using var host = builder.Build();
        try
        {
            host.Start();
        }
        catch (StartupException exception)
        {
            Console.Error.WriteLine($"flowcollector: {exception.Message}");
            return RunCommand.ExitCodeOf(exception);
        }

        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FlowCollector");
        LogStarted(logger, loaded.Options.Fleet.Nats.DisplayUrl, dataDirectory);
        host.WaitForShutdown();
        return 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "flowcollector fleet running on NATS at {Url}, state in {DataDirectory}")]
    private static partial void LogStarted(ILogger logger, string url, string dataDirectory);
}
