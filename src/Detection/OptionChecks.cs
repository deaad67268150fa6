namespace FlowCollector.Detection;

/// <summary>Checks the options classes of this project share; each message starts with the key.</summary>
internal static class OptionChecks
{
    public static void Range(List<string> errors, string key, int value, int minimum, int maximum)
    {
        if (value < minimum || value > maximum)
        {
            errors.Add($"{key}: must be between {minimum} and {maximum}, got {value}");
        }
    }
}
