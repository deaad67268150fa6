namespace FlowCollector.Collector.Runtime;

/// <summary>
/// Decides when a bounded table that is full, or input that was thrown away, is worth a log line: when its counter
/// first grows, then at most once a minute, with how much was lost since. The counters themselves are in /metrics.
/// Asked every second by the tick, so it allocates nothing unless a line is due.
/// </summary>
internal sealed class CapacityWarnings
{
    private const long IntervalSeconds = 60;
    private readonly Dictionary<string, (long Logged, long LoggedAtSecond)> _kinds = new(StringComparer.Ordinal);

    /// <summary>True, with the count lost since the last line, when <paramref name="count"/> grew and the kind is due.</summary>
    public bool Due(string kind, long count, long second, out long lost)
    {
        _kinds.TryGetValue(kind, out var last);
        lost = count - last.Logged;
        if (lost <= 0 || (last.LoggedAtSecond != 0 && second - last.LoggedAtSecond < IntervalSeconds))
        {
            return false;
        }

        _kinds[kind] = (count, second);
        return true;
    }
}
