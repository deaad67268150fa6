namespace FlowCollector.Collector.Runtime;

/// <summary>Where the collector keeps its state.</summary>
internal static class DataDirectory
{
    public const string SystemDirectory = "/var/lib/flowcollector";

    /// <summary>
    /// The configured directory, or /var/lib/flowcollector, or (when that is not writable, as for a user who is not
    /// root) the user's data directory. Created when missing.
    /// </summary>
    public static bool TryResolve(string configured, out string directory, out string error)
    {
        if (configured.Length > 0)
        {
            directory = Path.GetFullPath(configured);
            return TryWritable(directory, out error) || Fail($"DataDirectory: {directory} is not writable ({error})", out error);
        }

        directory = SystemDirectory;
        if (TryWritable(directory, out _))
        {
            error = string.Empty;
            return true;
        }

        directory = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "flowcollector");
        return TryWritable(directory, out error) || Fail($"DataDirectory: neither {SystemDirectory} nor {directory} is writable ({error})", out error);
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static bool TryWritable(string directory, out string error)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, string.Empty);
            File.Delete(probe);
            error = string.Empty;
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            error = exception.Message;
            return false;
        }
    }
}
