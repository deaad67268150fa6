using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Runtime;

/// <summary>
/// Tells the log when a bounded table is full or input is thrown away, without flooding it: each kind is logged when
/// its counter first grows and then at most once a minute, with how much was lost since. The counters themselves
/// are in /metrics.
/// </summary>
internal sealed partial class CapacityWarnings(ILogger logger)
{
    private const long IntervalSeconds = 60;
    private readonly Dictionary<string, (long Logged, long LoggedAtSecond)> _kinds = new(StringComparer.Ordinal);

    /// <summary>Logs <paramref name="message"/> (with the count lost since the last time) when <paramref name="count"/> grew and the kind is due.</summary>
    public void Check(string kind, long count, long second, Func<long, string> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _kinds.TryGetValue(kind, out var last);
        if (count <= last.Logged || (last.LoggedAtSecond != 0 && second - last.LoggedAtSecond < IntervalSeconds))
        {
            return;
        }

        LogFull(logger, message(count - last.Logged));
        _kinds[kind] = (count, second);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogFull(ILogger logger, string message);
}
