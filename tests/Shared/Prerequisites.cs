namespace FlowCollector.Tests.Support;

/// <summary>Tools a test needs from the machine: missing, the test skips locally and fails under CI.</summary>
internal static class Prerequisites
{
    public static bool IsCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

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
}
