namespace FlowCollector.Tests.Support;

/// <summary>
/// The one way tests wait for something a running process (or thread) will do: poll until it holds, with a generous
/// bound, so that a loaded machine makes a test slower, never wrong. <see cref="Until{T}(Func{T}, string, double, int)"/>
/// fails the test with what did not happen; <see cref="Within(Func{Task{bool}}, double, int)"/> says whether it
/// happened, for callers that assert on what they saw.
/// </summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="probe"/> until it returns a value, for at most <paramref name="seconds"/>.</summary>
    public static async Task<T> Until<T>(Func<T?> probe, string what, double seconds = 30, int pollMilliseconds = 100)
        where T : class => await Until(() => Task.FromResult(probe()), what, seconds, pollMilliseconds);

    public static async Task<T> Until<T>(Func<Task<T?>> probe, string what, double seconds = 30, int pollMilliseconds = 100)
        where T : class
    {
        T? found = null;
        var happened = await Within(async () => (found = await probe()) is not null, seconds, pollMilliseconds);
        Assert.True(happened, $"{what} did not happen within {seconds} s");
        return found!;
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing the test when it does not within the time.</summary>
    public static async Task True(Func<Task<bool>> condition, string what, double seconds = 30, int pollMilliseconds = 100) =>
        Assert.True(await Within(condition, seconds, pollMilliseconds), $"{what} did not happen within {seconds} s");

    /// <summary>The same for code that cannot await (a lab set up in a constructor, a thread's counters).</summary>
    public static void TrueNow(Func<bool> condition, string what, double seconds = 30, int pollMilliseconds = 100) =>
        Assert.True(Within(() => Task.FromResult(condition()), seconds, pollMilliseconds).GetAwaiter().GetResult(), $"{what} did not happen within {seconds} s");

    /// <summary>
    /// Checks, polling, that <paramref name="condition"/> keeps holding for <paramref name="seconds"/> (something that
    /// must not happen does not), failing at the first poll where it does not.
    /// </summary>
    public static async Task Holds(Func<Task<bool>> condition, string what, double seconds, int pollMilliseconds = 200)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        do
        {
            Assert.True(await condition(), $"{what} stopped holding before {seconds} s had passed");
            await Task.Delay(pollMilliseconds);
        }
        while (DateTime.UtcNow < until);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; false when it still does not after <paramref name="seconds"/>.</summary>
    public static async Task<bool> Within(Func<Task<bool>> condition, double seconds = 30, int pollMilliseconds = 100)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(pollMilliseconds);
        }
    }
}
