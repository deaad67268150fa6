using System.Collections.Concurrent;
using FlowCollector.Decoders.Flows;

namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// The exporters a decoder knows, keyed by address only: an exporter's source port may change (restart, NAT),
/// its templates stay valid (nfdump#237). Safe for several receive threads: lookups take no lock, adding and
/// evicting an exporter do. Bounded in count, in template bytes and in early-data bytes over all exporters. When full,
/// an exporter that never delivered a record makes room first (forged senders are such), then one idle for longer
/// than <see cref="FlowDecoderOptions.ExporterIdleLifetime"/>; the tick's <see cref="Expire"/> drops what has timed out.
/// </summary>
public sealed class ExporterTable
{
    /// <summary>Templates are swept for expiry this often; early data every second.</summary>
    private const long TemplateSweepMilliseconds = 60_000;

    private readonly ConcurrentDictionary<NetworkAddress, ExporterState> _exporters = new();
    private readonly ConcurrentQueue<ExporterState> _arrivals = new();
    private readonly Lock _membership = new();
    private readonly long _idleLifetimeMilliseconds;
    private int _templateCount;
    private int _templateBytes;
    private long _pendingBytes;
    private long _templatesRejected;
    private long _exportersRejected;
    private long _exportersEvicted;
    private long _pendingRejected;
    private long _noIdleUntilMilliseconds;
    private long _lastTemplateSweep;

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

    /// <summary>Memory held by templates over all exporters.</summary>
    public int TemplateBytes => Volatile.Read(ref _templateBytes);

    /// <summary>Memory held by early data sets over all exporters.</summary>
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    public long TemplatesRejected => Interlocked.Read(ref _templatesRejected);

    /// <summary>Datagrams from new exporters refused because the table was full of active, productive exporters.</summary>
    public long ExportersRejected => Interlocked.Read(ref _exportersRejected);

    /// <summary>Exporters forgotten: to make room, or idle past their lifetime.</summary>
    public long ExportersEvicted => Interlocked.Read(ref _exportersEvicted);

    /// <summary>Early data sets dropped because all exporters together held their byte budget.</summary>
    public long PendingRejected => Interlocked.Read(ref _pendingRejected);

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

            if (_exporters.Count >= Options.MaxExporters && !EvictUnproductive() && !EvictIdle(nowMilliseconds))
            {
                Interlocked.Increment(ref _exportersRejected);
                return null;
            }

            state = new ExporterState(address, this, Options) { LastSeenMilliseconds = nowMilliseconds };
            _exporters[address] = state;
            _arrivals.Enqueue(state);
            return state;
        }
    }

    /// <summary>A copy of the exporters, for reporting.</summary>
    public ExporterState[] Snapshot() => [.. _exporters.Values];

    /// <summary>
    /// The tick's sweep: early data past its lifetime goes every call, templates past theirs once a minute, exporters
    /// silent past their idle lifetime are forgotten (their templates and data with them).
    /// </summary>
    public void Expire(long nowMilliseconds)
    {
        if (_exporters.IsEmpty)
        {
            return;
        }

        var templates = nowMilliseconds - _lastTemplateSweep >= TemplateSweepMilliseconds;
        if (templates)
        {
            _lastTemplateSweep = nowMilliseconds;
        }

        // Enumerated in place: Values would lock every bucket and copy the table every second.
        foreach (var (_, state) in _exporters)
        {
            if (templates && nowMilliseconds - state.LastSeenMilliseconds > _idleLifetimeMilliseconds)
            {
                lock (_membership)
                {
                    Evict(state);
                }

                continue;
            }

            if (state.PendingDataSetCount == 0 && !templates)
            {
                continue;
            }

            lock (state)
            {
                state.Expire(nowMilliseconds, templates);
            }
        }
    }

    internal void AdjustTemplateCount(int delta) => Interlocked.Add(ref _templateCount, delta);

    internal void AdjustTemplateBytes(int delta) => Interlocked.Add(ref _templateBytes, delta);

    internal void CountRejectedTemplate() => Interlocked.Increment(ref _templatesRejected);

    internal bool TryReservePending(int bytes)
    {
        if (Interlocked.Add(ref _pendingBytes, bytes) <= Options.MaxPendingBytes)
        {
            return true;
        }

        Interlocked.Add(ref _pendingBytes, -bytes);
        Interlocked.Increment(ref _pendingRejected);
        return false;
    }

    internal void ReleasePending(int bytes) => Interlocked.Add(ref _pendingBytes, -bytes);

    /// <summary>The earliest-arrived exporter that never delivered a record makes room; productive ones are passed over.</summary>
    private bool EvictUnproductive()
    {
        while (_arrivals.TryDequeue(out var candidate))
        {
            if (!_exporters.TryGetValue(candidate.Address, out var current) || !ReferenceEquals(current, candidate))
            {
                continue;
            }

            if (!candidate.IsProductive)
            {
                Evict(candidate);
                return true;
            }
        }

        return false;
    }

    /// <summary>The longest-silent exporter makes room if it has been silent past its lifetime; looked for at most once a second.</summary>
    private bool EvictIdle(long nowMilliseconds)
    {
        if (nowMilliseconds < Interlocked.Read(ref _noIdleUntilMilliseconds))
        {
            return false;
        }

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
            // A flood of new senders would otherwise scan the whole table for every datagram.
            Interlocked.Exchange(ref _noIdleUntilMilliseconds, nowMilliseconds + 1000);
            return false;
        }

        Evict(oldest);
        return true;
    }

    private void Evict(ExporterState state)
    {
        lock (state)
        {
            state.Release();
        }

        if (_exporters.TryRemove(KeyValuePair.Create(state.Address, state)))
        {
            Interlocked.Increment(ref _exportersEvicted);
        }
    }
}
