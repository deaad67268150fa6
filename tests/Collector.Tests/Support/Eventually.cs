namespace FlowCollector.Collector.Tests.Support;

/// <summary>Waits for something a running process will do, failing the test with what did not happen.</summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="probe"/> until it returns a value, for at most <paramref name="seconds"/>.</summary>
    public static async Task<T> Until<T>(Func<T?> probe, string what, double seconds = 30, int pollMilliseconds = 100)
        where T : class => await Until(() => Task.FromResult(probe()), what, seconds, pollMilliseconds);

    public static async Task<T> Until<T>(Func<Task<T?>> probe, string what, double seconds = 30, int pollMilliseconds = 100)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{what} did not happen within {seconds} s");
            await Task.Delay(pollMilliseconds);
        }
    }
}
