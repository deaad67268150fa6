using FlowCollector.Exporters.Alerts.Channels;

namespace FlowCollector.Exporters.Alerts;

/// <summary>
/// A channel's sending pace: at most <see cref="RateLimit.Requests"/> in any <see cref="RateLimit.Period"/> (a
/// sliding window, exact where a token bucket would allow a double burst at its edge), and nothing before a time
/// the service asked for (429 Retry-After). Used by one sender only.
/// </summary>
public sealed class SendWindow(RateLimit limit)
{
    private readonly Queue<DateTimeOffset> _sent = new();
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;

    /// <summary>The earliest time the next request may go.</summary>
    public DateTimeOffset NextFree(DateTimeOffset now)
    {
        while (limit.Limits && _sent.Count > 0 && _sent.Peek() + limit.Period <= now)
        {
            _sent.Dequeue();
        }

        var free = limit.Limits && _sent.Count >= limit.Requests ? _sent.Peek() + limit.Period : now;
        return free > _pausedUntil ? free : _pausedUntil;
    }

    public void Record(DateTimeOffset at)
    {
        if (limit.Limits)
        {
            _sent.Enqueue(at);
        }
    }

    /// <summary>The service said to wait: nothing goes to it before <paramref name="until"/>.</summary>
    public void PauseUntil(DateTimeOffset until)
    {
        if (until > _pausedUntil)
        {
            _pausedUntil = until;
        }
    }
}
