using System.Reflection;

namespace FlowCollector.Collector.Hosting;

/// <summary>The version this binary was built as (the informational version, without the source revision).</summary>
internal static class BuildVersion
{
    public static string Text { get; } = Read();

    private static string Read()
    {
        var version = typeof(BuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
