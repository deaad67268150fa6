namespace FlowCollector.Decoders.Tests.Support;

/// <summary>
/// Where the tests find what they need outside the repository. A test may skip only when something is missing
/// and CI is unset; under CI (the <c>CI</c> variable set) a missing piece fails the test.
/// </summary>
internal static class TestEnvironment
{
    public static bool IsCi => Prerequisites.IsCi;

    /// <summary>The repository root: the nearest folder above the test binaries holding FlowCollector.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Skips (locally) or fails (under CI) when a prerequisite is missing.</summary>
    public static void Require(bool condition, string missing) => Prerequisites.Require(condition, missing);

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "FlowCollector.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("FlowCollector.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs external programs (real exporters, capture tools) for integration tests.</summary>
internal static class ExternalTools
{
    /// <summary>True when an executable of that name is on PATH (or the path itself is executable).</summary>
    public static bool Exists(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name);
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/sbin")
            .Any(directory => File.Exists(Path.Combine(directory, name)));
    }

    /// <summary>True when Debian's python3 can import scapy.</summary>
    public static bool HasScapy() => Exists("/usr/bin/python3") && Run("/usr/bin/python3", ["-c", "import scapy.all"], TimeSpan.FromSeconds(60)).ExitCode == 0;

    public static bool IsRoot => Environment.UserName == "root";

    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PATH"] = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty) + ":/usr/sbin:/sbin";
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{program} timed out after {timeout}");
        }

        return (process.ExitCode, output.Result + error.Result);
    }
}
