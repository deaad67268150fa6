using FlowCollector.Collector.Configuration;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Collector.Commands;

/// <summary>The database the commands that read it (<c>incidents</c>, <c>mitigations</c>) open, found as <c>run</c> finds it.</summary>
internal static class StoreArguments
{
    /// <summary>
    /// Loads the configuration and opens its database. False with the exit code when it cannot: a configuration
    /// error, an unusable data directory, no database yet (exit 0: nothing has been recorded), or a database this
    /// build refuses.
    /// </summary>
    public static bool TryOpen(CommandLineOverrides overrides, out IncidentStore? store, out int exit)
    {
        store = null;
        if (!TryLocate(overrides, out _, out var path, out exit))
        {
            return false;
        }

        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"no database at {path}: the collector has not run with this data directory");
            return false;
        }

        if (!IncidentStore.TryOpen(path, out store, out var openError))
        {
            Console.Error.WriteLine($"flowcollector: {openError}");
            exit = RunCommand.StartError;
            return false;
        }

        return true;
    }

    /// <summary>The configuration, and where its database is; false with the exit code when the configuration is refused.</summary>
    public static bool TryLocate(CommandLineOverrides overrides, out CollectorOptions options, out string path, out int exit)
    {
        exit = 0;
        path = string.Empty;
        var loaded = ConfigurationLoader.Load(overrides);
        options = loaded.Options;
        if (loaded.Errors.Count > 0)
        {
            ConfigurationArguments.Report(loaded.Errors);
            exit = RunCommand.ConfigurationError;
            return false;
        }

        path = options.Storage.Path;
        if (path.Length == 0)
        {
            if (!Runtime.DataDirectory.TryResolve(options.DataDirectory, out var directory, out var dataError))
            {
                Console.Error.WriteLine($"configuration: {dataError}");
                exit = RunCommand.StartError;
                return false;
            }

            path = options.Storage.DatabasePath(directory);
        }

        return true;
    }
}
