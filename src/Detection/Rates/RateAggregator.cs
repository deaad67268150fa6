using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>What one tick produced: every key's sample for one second. Valid until the next tick.</summary>
public sealed class TrafficSecond
{
    internal List<TrafficSample> Buffer { get; } = [];

    public long Second { get; internal set; }

    /// <summary>When the second was taken: the wall-clock time incidents opened or changed by it are stamped with.</summary>
    public DateTimeOffset ObservedAt { get; internal set; }

    public ReadOnlySpan<TrafficSample> Samples => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Buffer);
}

/// <summary>Counters of the aggregation itself.</summary>
public readonly record struct AggregationStatistics(long DestinationOverflow, long InterfaceOverflow, long CounterResets, int Keys, int Destinations)
{
    /// <summary>Records not counted because their bytes per packet cannot be IP.</summary>
    public long ImplausiblePacketSize { get; init; }

    /// <summary>Records not counted because their rate is beyond any link's.</summary>
    public long ImplausibleRate { get; init; }

    /// <summary>Records not counted because they claim more than twice their interface's capacity.</summary>
    public long ImplausibleCapacity { get; init; }

    /// <summary>The exporter of an implausible record seen lately, for the log.</summary>
    public NetworkAddress LastImplausibleExporter { get; init; }

    public long Implausible => ImplausiblePacketSize + ImplausibleRate + ImplausibleCapacity;
}

/// <summary>
/// Turns flow records and interface counters into one <see cref="TrafficSample"/> per key per second. Each receive
/// thread writes its own <see cref="AggregationShard"/>; <see cref="Tick"/> merges them once a second. Destination
/// and interface keys are capped over all shards, so a random-destination flood cannot grow memory.
/// </summary>
public sealed class RateAggregator
{
    private readonly List<AggregationShard> _shards = [];
    private readonly Lock _gate = new();
    private readonly Dictionary<TrafficKey, int> _merged = [];
    private readonly TrafficSecond _result = new();
    private readonly TrafficSecond _partial = new();
    private readonly Dictionary<TrafficKey, int> _partialMerged = [];
    private readonly CounterRates _counters;
    private readonly List<(InterfaceCounters Counters, uint Interface)> _pendingCounters = [];
    private readonly InterfaceNames _names;
    private readonly AggregationOptions _options;
    private int _destinations;
    private int _interfaces;
    private long _second;
    private readonly int[] _prefixSamples;

    public RateAggregator(AggregationOptions options, MonitoredPrefixes prefixes, InterfaceNames names, long firstSecond, InterfaceCapacities? capacities = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        _options = options;
        Prefixes = prefixes ?? throw new ArgumentNullException(nameof(prefixes));
        _prefixSamples = new int[prefixes.Count];
        _names = names ?? throw new ArgumentNullException(nameof(names));
        _counters = new CounterRates(options.MaxInterfaces);
        _second = firstSecond;
        Capacities = capacities ?? new InterfaceCapacities(maxReported: options.MaxInterfaces, fastestLinkPps: options.MaxRecordPps, fastestLinkBps: options.MaxRecordBps);
        MaxRecordPps = options.MaxRecordPps;
        MaxRecordBps = options.MaxRecordBps;
    }

    public MonitoredPrefixes Prefixes { get; }

    public InterfaceNames Names => _names;

    /// <summary>What each link can carry, where known: records beyond it are not believed.</summary>
    public InterfaceCapacities Capacities { get; }

    internal double MaxRecordPps { get; }

    internal double MaxRecordBps { get; }

    internal int MaxSpreadSeconds => _options.MaxSpreadSeconds;

    /// <summary>The second records are being counted into now.</summary>
    public long CurrentSecond => Volatile.Read(ref _second);

    /// <summary>A shard for one receive thread.</summary>
    public AggregationShard CreateShard()
    {
        lock (_gate)
        {
            var shard = new AggregationShard(this, _second);
            _shards.Add(shard);
            return shard;
        }
    }

    /// <summary>Queues interface counters (from any thread); they become rates at the next tick.</summary>
    public void AddCounters(in InterfaceCounters counters)
    {
        var interfaceId = counters.Name is null ? counters.IfIndex : _names.Id(counters.Name);
        if ((counters.Known & KnownCounters.Speed) != 0)
        {
            Capacities.Report(counters.Exporter, interfaceId, counters.IfSpeed);
        }

        lock (_pendingCounters)
        {
            // Bounded: a flood of counter samples between two ticks keeps the newest thousands.
            if (_pendingCounters.Count < _options.MaxInterfaces * 4)
            {
                _pendingCounters.Add((counters, interfaceId));
            }
        }
    }

    /// <summary>
    /// Closes <paramref name="second"/>: merges every shard's counts and the counter rates into one sample per key.
    /// The result is valid until the next call. <paramref name="observedAt"/> is when it was closed; the second's
    /// end when not given (a replay, a test).
    /// </summary>
    public TrafficSecond Tick(long second, DateTimeOffset? observedAt = null)
    {
        lock (_gate)
        {
            _merged.Clear();
            _result.Buffer.Clear();
            _result.Second = second;
            _result.ObservedAt = observedAt ?? DateTimeOffset.FromUnixTimeSeconds(second + 1);
            foreach (var shard in _shards)
            {
                shard.Drain(second, _merged, _result.Buffer, _options.IdleSeconds);
            }

            SumNodes(second);

            lock (_pendingCounters)
            {
                foreach (var (counters, interfaceId) in _pendingCounters)
                {
                    _counters.Add(counters, interfaceId);
                }

                _pendingCounters.Clear();
            }

            _counters.Emit(second, _merged, _result.Buffer);
            _counters.Evict(second, _options.IdleSeconds);
            CountDestinations();
            Volatile.Write(ref _second, second + 1);
            return _result;
        }
    }

    /// <summary>
    /// The second being counted, so far, for destination, prefix and interface keys of flow evidence (not closed,
    /// not interface counters), prefixes with their destinations counted. Valid until the next call; read on the tick's thread.
    /// </summary>
    public TrafficSecond Peek(DateTimeOffset observedAt)
    {
        lock (_gate)
        {
            _partialMerged.Clear();
            _partial.Buffer.Clear();
            _partial.Second = _second;
            _partial.ObservedAt = observedAt;
            foreach (var shard in _shards)
            {
                shard.Peek(_second, _partialMerged, _partial.Buffer);
            }

            CountDestinations(_partial.Buffer, _partialMerged);

            return _partial;
        }
    }

    public AggregationStatistics Statistics()
    {
        lock (_gate)
        {
            long destinationOverflow = 0, interfaceOverflow = 0, packetSize = 0, rate = 0, capacity = 0;
            var keys = 0;
            var lastImplausible = NetworkAddress.None;
            foreach (var shard in _shards)
            {
                destinationOverflow += shard.DestinationOverflow;
                interfaceOverflow += shard.InterfaceOverflow;
                keys += shard.KeyCount;
                packetSize += shard.ImplausiblePacketSize;
                rate += shard.ImplausibleRate;
                capacity += shard.ImplausibleCapacity;
                if (shard.LastImplausibleExporter != NetworkAddress.None)
                {
                    lastImplausible = shard.LastImplausibleExporter;
                }
            }

            return new AggregationStatistics(destinationOverflow, interfaceOverflow + _counters.Overflow, _counters.Resets, keys + _counters.Count, Volatile.Read(ref _destinations))
            {
                ImplausiblePacketSize = packetSize,
                ImplausibleRate = rate,
                ImplausibleCapacity = capacity,
                LastImplausibleExporter = lastImplausible,
            };
        }
    }

    internal bool TryReserveDestination() => Reserve(ref _destinations, _options.MaxDestinations);

    internal void ReleaseDestination() => Interlocked.Decrement(ref _destinations);

    internal bool TryReserveInterface() => Reserve(ref _interfaces, _options.MaxInterfaces);

    internal void ReleaseInterface() => Interlocked.Decrement(ref _interfaces);

    private static bool Reserve(ref int count, int maximum)
    {
        while (true)
        {
            var current = Volatile.Read(ref count);
            if (current >= maximum)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref count, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Each flow source's node total: the sum of its ingress interfaces (every record enters by exactly one), plus
    /// what was counted under the node key directly when the interface cap was reached. Top items merge
    /// approximately, as space-saving summaries do.
    /// </summary>
    private void SumNodes(long second)
    {
        var count = _result.Buffer.Count;
        for (var i = 0; i < count; i++)
        {
            var samples = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_result.Buffer);
            if (samples[i].Key.Kind != KeyKind.Interface || samples[i].Key.Direction != FlowDirection.Ingress)
            {
                continue;
            }

            var node = TrafficKey.ForNode(samples[i].Key.Source);
            if (!_merged.TryGetValue(node, out var target))
            {
                target = _result.Buffer.Count;
                _merged.Add(node, target);
                _result.Buffer.Add(new TrafficSample { Key = node, Second = second });
                samples = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_result.Buffer);
            }

            ref var total = ref samples[target];
            ref readonly var part = ref samples[i];
            total.Counts.Add(part.Counts);
            total.SourcePorts.Merge(part.SourcePorts);
            total.Sources.Merge(part.Sources);
        }
    }

    /// <summary>Prefix keys learn how many of their destinations had traffic (carpet bombing spreads thin).</summary>
    private void CountDestinations() => CountDestinations(_result.Buffer, _merged);

    private void CountDestinations(List<TrafficSample> buffer, Dictionary<TrafficKey, int> merged)
    {
        var samples = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer);
        var prefixSamples = _prefixSamples;
        prefixSamples.AsSpan().Fill(-2);
        for (var i = 0; i < samples.Length; i++)
        {
            var prefix = samples[i].Key.Prefix;
            if (samples[i].Key.Kind != KeyKind.Destination || samples[i].Counts.Packets <= 0 || (uint)prefix >= (uint)prefixSamples.Length)
            {
                continue;
            }

            // One lookup per prefix, not per destination: there are few prefixes and many destinations.
            if (prefixSamples[prefix] == -2)
            {
                prefixSamples[prefix] = merged.TryGetValue(TrafficKey.ForPrefix(prefix), out var found) ? found : -1;
            }

            if (prefixSamples[prefix] >= 0)
            {
                samples[prefixSamples[prefix]].Destinations++;
            }
        }
    }
}
