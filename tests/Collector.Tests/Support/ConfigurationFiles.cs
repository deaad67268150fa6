using FlowCollector.Collector.Configuration;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>Loads a configuration as <c>run</c> does, from JSON written to a file of its own, with a given environment.</summary>
internal static class ConfigurationFiles
{
    public static readonly Dictionary<string, string?> NoEnvironment = [];

    public static LoadedConfiguration LoadJson(string json, IDictionary<string, string?>? environment = null, CommandLineOverrides? overrides = null)
    {
        var path = Path.Combine(Path.GetTempPath(), $"flowcollector-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            overrides ??= new CommandLineOverrides();
            overrides.ConfigPath = path;
            return ConfigurationLoader.Load(overrides, environment ?? NoEnvironment);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
