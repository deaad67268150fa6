using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Configuration;

namespace FlowCollector.Collector.Configuration;

/// <summary>
/// The shape of <see cref="CollectorOptions"/>: which configuration paths are lists. The configuration binder silently
/// skips a single value where a list belongs (<c>"Allowlist": "203.0.113.10/32"</c> binds to an empty allowlist), so
/// such values are found here and reported with the list form. The shape comes from System.Text.Json's source
/// generator, which knows every options type at build time (no reflection, so it holds under Native AOT).
/// </summary>
internal static class OptionsShape
{
    /// <summary>"Section:Key: a list is expected ..." for every single value that stands where a list belongs.</summary>
    public static IEnumerable<string> ScalarsWhereListsBelong(IConfiguration configuration)
    {
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            // An empty JSON array arrives as an empty value: an empty list, as meant.
            if (string.IsNullOrEmpty(value) || Resolve(key) is not { Kind: JsonTypeInfoKind.Enumerable } list)
            {
                continue;
            }

            var name = key[(key.LastIndexOf(':') + 1)..];
            if (list.ElementType is { } element && OptionsShapeContext.Default.GetTypeInfo(element) is { Kind: JsonTypeInfoKind.Object })
            {
                yield return $"{key}: a list of objects is expected, not the single value '{value}'; in the file write \"{name}\": [ {{ ... }} ]";
                continue;
            }

            yield return $"{key}: a list is expected, not the single value '{value}'; in the file write \"{name}\": [ \"{value}\" ], "
                + $"on the command line --set {key}:0={value}, in the environment {ConfigurationLoader.EnvironmentPrefix}{key.Replace(":", "__", StringComparison.Ordinal)}__0={value}";
        }
    }

    /// <summary>
    /// "Section:Key: unknown setting" for every configuration path the options have no place for, named at its first
    /// unknown segment (a misspelt section is reported once, not once per key under it), in path order.
    /// </summary>
    public static IEnumerable<string> UnknownKeys(IConfiguration configuration)
    {
        var unknown = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, _) in configuration.AsEnumerable())
        {
            if (Resolve(key) is not null)
            {
                continue;
            }

            // The shortest prefix that does not resolve is the misspelt part.
            var segments = key.Split(':');
            for (var length = 1; length <= segments.Length; length++)
            {
                var prefix = string.Join(':', segments[..length]);
                if (Resolve(prefix) is null)
                {
                    unknown.Add(prefix);
                    break;
                }
            }
        }

        return unknown.Select(path => $"{path}: unknown setting");
    }

    /// <summary>The type a configuration path binds to, or null when the path is not part of the options.</summary>
    private static JsonTypeInfo? Resolve(string path)
    {
        JsonTypeInfo? current = OptionsShapeContext.Default.CollectorOptions;
        foreach (var segment in path.Split(':'))
        {
            switch (current)
            {
                case { Kind: JsonTypeInfoKind.Object }:
                    var property = current.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase));
                    current = property is null ? null : OptionsShapeContext.Default.GetTypeInfo(property.PropertyType);
                    break;
                case { Kind: JsonTypeInfoKind.Enumerable, ElementType: { } element } when int.TryParse(segment, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _):
                    current = OptionsShapeContext.Default.GetTypeInfo(element);
                    break;
                case { Kind: JsonTypeInfoKind.Dictionary, ElementType: { } value }:
                    current = OptionsShapeContext.Default.GetTypeInfo(value);
                    break;
                default:
                    return null;
            }
        }

        return current;
    }
}

[JsonSerializable(typeof(CollectorOptions))]
[JsonSourceGenerationOptions(IgnoreReadOnlyProperties = true)]
internal sealed partial class OptionsShapeContext : JsonSerializerContext;
