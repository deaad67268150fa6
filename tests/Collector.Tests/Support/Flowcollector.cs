using System.Diagnostics;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>Runs the built <c>flowcollector</c> executable as a user would, capturing what it prints.</summary>
internal static class Flowcollector
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SharedFixtures { get; } = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "fixtures"));

    public static bool IsCi => Prerequisites.IsCi;

    /// <summary>Skips (locally) or fails (under CI) when a prerequisite is missing.</summary>
    public static void Require(bool condition, string missing) => Prerequisites.Require(condition, missing);

    public static (int ExitCode, string Output, string Error) Run(params string[] arguments) => RunWith(new Dictionary<string, string>(), arguments);

    /// <summary>Runs with these variables added to the environment.</summary>
    public static (int ExitCode, string Output, string Error) RunWith(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("flowcollector did not finish in 2 minutes");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "FlowCollector.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("FlowCollector.sln not found");
    }
}
