namespace FlowCollector.Decoders.Tests.Support;

/// <summary>
/// Where the tests find what they need outside the repository. A test may skip only when something is missing
/// and CI is unset; under CI (the <c>CI</c> variable set) a missing piece fails the test.
/// </summary>
internal static class TestEnvironment
{
    public static bool IsCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>The repository root: the nearest folder above the test binaries holding FlowCollector.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Skips (locally) or fails (under CI) when a prerequisite is missing.</summary>
    public static void Require(bool condition, string missing)
    {
        if (condition)
        {
            return;
        }

        if (IsCi)
        {
            Assert.Fail($"{missing} (CI is set, so a missing prerequisite fails the test)");
        }

        Assert.Skip(missing);
    }

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
