namespace FlowCollector.Detection;

/// <summary>
/// Reads back the names the domain's enums have at the edges (rows, JSON, configuration): each enum's own Name
/// function is the one list of its names, so parsing looks a name up among them rather than spelling them again.
/// </summary>
public static class EnumNames
{
    /// <summary>The value <paramref name="name"/> gives <paramref name="text"/>; false (and the enum's default) for a text no value has.</summary>
    public static bool TryParse<T>(string? text, Func<T, string> name, out T value)
        where T : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var candidate in Values<T>.All)
        {
            if (name(candidate) == text)
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static class Values<T>
        where T : struct, Enum
    {
        public static readonly T[] All = Enum.GetValues<T>();
    }
}
