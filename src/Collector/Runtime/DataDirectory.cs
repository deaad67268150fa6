namespace FlowCollector.Collector.Runtime;

/// <summary>Where the collector keeps its state: readable by its owner only, for it names victims and attackers.</summary>
internal static class DataDirectory
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

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

    /// <summary>Only a directory of our own is tightened: one shared on purpose is not ours to change.</summary>
    private static bool IsOwnedByUs(string directory) =>
        FileFacts.TryStat(directory, out _, out var owner, out _) && owner == FileFacts.EffectiveUser();

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static bool TryWritable(string directory, out string error)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory, OwnerOnly);
            }
            else if ((File.GetUnixFileMode(directory) & ~OwnerOnly) != 0 && IsOwnedByUs(directory))
            {
                File.SetUnixFileMode(directory, OwnerOnly);
            }

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
