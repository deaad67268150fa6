using System.Collections.Concurrent;
using FlowCollector.Decoders.Flows;

namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// The exporters a decoder knows, keyed by address only: an exporter's source port may change (restart, NAT),
/// its templates stay valid (nfdump#237). Safe for several receive threads: lookups take no lock, adding and
/// evicting an exporter do.
/// </summary>
public sealed class ExporterTable
{
    private readonly ConcurrentDictionary<NetworkAddress, ExporterState> _exporters = new();
    private readonly Lock _membership = new();
    private readonly long _idleLifetimeMilliseconds;
    private int _templateCount;
    private long _templatesRejected;
    private long _exportersRejected;

    public ExporterTable(FlowDecoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _idleLifetimeMilliseconds = (long)options.ExporterIdleLifetime.TotalMilliseconds;
    }

    public FlowDecoderOptions Options { get; }

    public int Count => _exporters.Count;

    /// <summary>Templates held over all exporters.</summary>
    public int TemplateCount => Volatile.Read(ref _templateCount);

    public long TemplatesRejected => Interlocked.Read(ref _templatesRejected);

    /// <summary>Datagrams from new exporters refused because the table was full of active ones.</summary>
    public long ExportersRejected => Interlocked.Read(ref _exportersRejected);

    /// <summary>Datagrams that failed before their exporter was known to speak a flow protocol.</summary>
    public ExporterStatistics Unattributed { get; } = new();

    public ExporterState? Find(NetworkAddress address) => _exporters.GetValueOrDefault(address);

    /// <summary>The exporter's state, created on first sight; null when the table is full of active exporters.</summary>
    public ExporterState? GetOrAdd(NetworkAddress address, long nowMilliseconds)
    {
        if (_exporters.TryGetValue(address, out var state))
        {
            return state;
        }

        lock (_membership)
        {
            if (_exporters.TryGetValue(address, out state))
            {
                return state;
            }

            if (_exporters.Count >= Options.MaxExporters && !EvictIdle(nowMilliseconds))
            {
                Interlocked.Increment(ref _exportersRejected);
                return null;
            }

            state = new ExporterState(address, this, Options) { LastSeenMilliseconds = nowMilliseconds };
            _exporters[address] = state;
            return state;
        }
    }

    /// <summary>A copy of the exporters, for reporting.</summary>
    public ExporterState[] Snapshot() => [.. _exporters.Values];

    internal void AdjustTemplateCount(int delta) => Interlocked.Add(ref _templateCount, delta);

    internal void CountRejectedTemplate() => Interlocked.Increment(ref _templatesRejected);

    private bool EvictIdle(long nowMilliseconds)
    {
        ExporterState? oldest = null;
        foreach (var state in _exporters.Values)
        {
            if (oldest is null || state.LastSeenMilliseconds < oldest.LastSeenMilliseconds)
            {
                oldest = state;
            }
        }

        if (oldest is null || nowMilliseconds - oldest.LastSeenMilliseconds <= _idleLifetimeMilliseconds)
        {
            return false;
        }

        lock (oldest)
        {
            oldest.Release();
        }

        _exporters.TryRemove(oldest.Address, out _);
        return true;
    }
}
