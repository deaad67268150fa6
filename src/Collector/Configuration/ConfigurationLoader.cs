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

        builder.AddInMemoryCollection(EnvironmentSettings(environment));
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
            configuration.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidDataException exception)
        {
            errors.Add($"{path}: not valid JSON ({exception.InnerException?.Message ?? exception.Message})");
            return new LoadedConfiguration(options, errors, usedPath);
        }
        catch (InvalidOperationException exception)
        {
            // The binder names a badly typed key with its path ("Failed to convert configuration value 'x' at
            // 'Listeners:NetFlowPort' ..."), an unknown one only by name: find its path.
            errors.Add(UnknownKeys(exception.Message, configuration) ?? exception.Message);
            return new LoadedConfiguration(options, errors, usedPath);
        }

        errors.AddRange(OptionsShape.ScalarsWhereListsBelong(configuration));
        Apply(overrides, options);
        errors.AddRange(OptionsValidator.Validate(options));
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

    /// <summary>"Listeners:NetFlowPrt: unknown setting" for each unknown name the binder reported, or null.</summary>
    private static string? UnknownKeys(string message, IConfiguration? configuration)
    {
        const string Marker = "were not found on the instance of ";
        var start = message.IndexOf(Marker, StringComparison.Ordinal);
        if (start < 0 || configuration is null)
        {
            return null;
        }

        var names = message[(message.IndexOf(':', start) + 1)..]
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(name => name.Trim('\''))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var paths = configuration.AsEnumerable()
            .Select(pair => pair.Key)
            .Where(key => names.Contains(key.Split(':').Last()) || key.Split(':').Any(names.Contains))
            .Select(key => string.Join(':', key.Split(':').TakeWhile(segment => !names.Contains(segment)).Append(key.Split(':').First(names.Contains))))
            .Distinct()
            .Order();
        return string.Join("; ", paths.Select(path => $"{path}: unknown setting"));
    }

    private static void Apply(CommandLineOverrides overrides, CollectorOptions options)
    {
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

    /// <summary>FLOWCOLLECTOR__Section__Key=value becomes Section:Key=value.</summary>
    private static Dictionary<string, string?> EnvironmentSettings(IDictionary<string, string?>? environment)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (environment is null)
        {
            foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            {
                Add(result, (string)entry.Key, (string?)entry.Value);
            }
        }
        else
        {
            foreach (var (key, value) in environment)
            {
                Add(result, key, value);
            }
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
