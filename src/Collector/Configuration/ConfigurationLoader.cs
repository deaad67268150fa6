using FlowCollector.Exporters.Fleet;
using Microsoft.Extensions.Configuration;

namespace FlowCollector.Collector.Configuration;

/// <summary>Command-line values that override the configuration, after the file and the environment.</summary>
public sealed class CommandLineOverrides
{
    public string? ConfigPath { get; set; }

    public int? NetFlowPort { get; set; }

    public int? IpfixPort { get; set; }

    public int? SFlowPort { get; set; }

    public string? Http { get; set; }

    public string? DataDirectory { get; set; }

    public string? Node { get; set; }

    public IReadOnlyList<string> Monitor { get; set; } = [];

    public int? LearningSeconds { get; set; }

    /// <summary>KEY=VALUE pairs in configuration syntax (Section:Key=value), for any setting.</summary>
    public IReadOnlyList<string> Settings { get; set; } = [];

    /// <summary>Validated for <c>flowcollector fleet</c>: NATS and PostgreSQL are required, exports are not taken.</summary>
    public bool FleetService { get; set; }
}

/// <summary>The outcome of loading: options, or the errors that keep them from being used.</summary>
public sealed record LoadedConfiguration(CollectorOptions Options, IReadOnlyList<string> Errors, string? ConfigPath);

/// <summary>
/// Builds the options from the JSON file (absent: embedded defaults), <c>FLOWCOLLECTOR__Section__Key</c>
/// environment variables and the command line, in that order, and validates them. Unknown keys and values of the
/// wrong type are errors that name the key.
/// </summary>
public static class ConfigurationLoader
{
    public const string EnvironmentPrefix = "FLOWCOLLECTOR__";

    public static LoadedConfiguration Load(CommandLineOverrides overrides, IDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var errors = new List<string>();
        var path = overrides.ConfigPath ?? CollectorOptions.DefaultConfigPath;
        var builder = new ConfigurationBuilder();
        string? usedPath = null;
        if (File.Exists(path))
        {
            if (JsonSyntaxError(path) is { } syntax)
            {
                errors.Add(syntax);
                return new LoadedConfiguration(new CollectorOptions(), errors, path);
            }

            builder.AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false);
            usedPath = path;
        }
        else if (overrides.ConfigPath is not null)
        {
            errors.Add($"--config: {path} does not exist");
        }

        if (environment is null)
        {
            // FLOWCOLLECTOR__Section__Key=value is Section:Key=value.
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(EnvironmentSettings(environment));
        }

        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var setting in overrides.Settings)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                errors.Add($"--set: '{setting}' is not KEY=VALUE (e.g. Aggregation:MaxDestinations=20000)");
                continue;
            }

            settings[setting[..equals].Trim()] = setting[(equals + 1)..];
        }

        builder.AddInMemoryCollection(settings);
        var options = new CollectorOptions();
        IConfigurationRoot? configuration = null;
        try
        {
            configuration = builder.Build();
        }
        catch (InvalidDataException exception)
        {
            errors.Add($"{path}: not valid JSON ({exception.InnerException?.Message ?? exception.Message})");
            return new LoadedConfiguration(options, errors, usedPath);
        }

        // Unknown keys are found against the options' shape, each with its full path.
        errors.AddRange(OptionsShape.UnknownKeys(configuration));
        if (errors.Count > 0)
        {
            return new LoadedConfiguration(options, errors, usedPath);
        }

        try
        {
            configuration.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException exception)
        {
            // A badly typed value: the binder names its path ("Failed to convert configuration value 'x' at
            // 'Listeners:NetFlowPort' to type ...").
            errors.Add(exception.Message);
            return new LoadedConfiguration(options, errors, usedPath);
        }

        errors.AddRange(OptionsShape.ScalarsWhereListsBelong(configuration));
        Apply(overrides, options);
        errors.AddRange(OptionsValidator.Validate(options, overrides.FleetService));
        return new LoadedConfiguration(options, errors, usedPath);
    }

    /// <summary>
    /// "FILE: not valid JSON at line L, column C: reason", read as the configuration's JSON provider reads (comments
    /// and trailing commas allowed), which itself reports no position; null when the file parses.
    /// </summary>
    private static string? JsonSyntaxError(string path)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path), new System.Text.Json.JsonDocumentOptions
            {
                CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            return null;
        }
        catch (System.Text.Json.JsonException exception)
        {
            var reason = exception.Message;
            var cut = reason.IndexOf(" Path:", StringComparison.Ordinal) is var p and > 0 ? p : reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}: not valid JSON at line {exception.LineNumber + 1}, column {exception.BytePositionInLine + 1}: {(cut > 0 ? reason[..cut] : reason)}");
        }
        catch (IOException exception)
        {
            return $"{path}: cannot be read ({exception.Message})";
        }
    }

    private static void Apply(CommandLineOverrides overrides, CollectorOptions options)
    {
        if (overrides.FleetService)
        {
            // The fleet service takes no exports and reads no interfaces: its traffic is the nodes' summaries. It
            // may share a host (and a configuration file) with a node, so its own port differs by default.
            options.Listeners.NetFlowPort = options.Listeners.IpfixPort = options.Listeners.SFlowPort = options.Listeners.MirrorPort = 0;
            options.Listeners.Gre = false;
            options.ProcNetDev.Mode = "off";
            options.Capture.Interfaces.Clear();
            options.Capture.Ring.Enabled = false;
            options.Node.Name = FleetNames.Node;
            if (options.Http.Listen == new HttpOptions().Listen)
            {
                options.Http.Listen = FleetNames.DefaultListen;
            }
        }

        if (overrides.NetFlowPort is { } netflow)
        {
            options.Listeners.NetFlowPort = netflow;
        }

        if (overrides.IpfixPort is { } ipfix)
        {
            options.Listeners.IpfixPort = ipfix;
        }

        if (overrides.SFlowPort is { } sflow)
        {
            options.Listeners.SFlowPort = sflow;
        }

        if (overrides.Http is not null)
        {
            options.Http.Listen = overrides.Http;
        }

        if (overrides.DataDirectory is not null)
        {
            options.DataDirectory = overrides.DataDirectory;
        }

        if (overrides.Node is not null)
        {
            options.Node.Name = overrides.Node;
        }

        if (overrides.Monitor.Count > 0)
        {
            options.Monitor.Prefixes = [.. overrides.Monitor];
        }

        if (overrides.LearningSeconds is { } learning)
        {
            options.Detection.LearningSeconds = learning;
        }
    }

    /// <summary>A given environment (tests) read as the environment provider reads the process's.</summary>
    private static Dictionary<string, string?> EnvironmentSettings(IDictionary<string, string?> environment)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in environment)
        {
            Add(result, key, value);
        }

        return result;
    }

    private static void Add(Dictionary<string, string?> result, string key, string? value)
    {
        if (key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
        {
            result[key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = value;
        }
    }
}
