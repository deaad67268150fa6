using System.Collections.Concurrent;
using FlowCollector.Detection.Incidents;

namespace FlowCollector.Collector.Pipeline;

/// <summary>
/// Packet samples on their way from the sampling threads to the detection thread, and the event that wakes it. Told
/// apart from nothing to do by one field, so that an idle tick runs no queue code at all.
/// </summary>
internal sealed class SampleInbox : IDisposable
{
    private readonly ConcurrentQueue<PacketSample> _samples = new();
    private int _waiting;

    /// <summary>Set when a sample arrives; the clock's thread waits on it between ticks.</summary>
    public AutoResetEvent Arrived { get; } = new(false);

    public bool HasWaiting => Volatile.Read(ref _waiting) != 0;

    public void Post(PacketSample sample)
    {
        _samples.Enqueue(sample);
        Interlocked.Increment(ref _waiting);
        Arrived.Set();
    }

    public bool TryTake(out PacketSample sample)
    {
        if (!_samples.TryDequeue(out sample!))
        {
            return false;
        }

        Interlocked.Decrement(ref _waiting);
        return true;
    }

    public void Dispose() => Arrived.Dispose();
}
