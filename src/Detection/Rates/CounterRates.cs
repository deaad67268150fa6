using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// Turns absolute interface counters (<c>/proc/net/dev</c> every second, sFlow counter samples every 20–30 s) into
/// per-second rates: the delta of two snapshots over the time between them. A counter that went backwards has
/// wrapped (32-bit counters at 2^32) or was reset (interface re-created, agent restarted): a reset yields no rate
/// for that interval rather than a negative or absurd one. The last rate holds until the next snapshot, and is
/// dropped when snapshots stop coming.
/// </summary>
internal sealed class CounterRates
{
    private const double MinimumIntervalSeconds = 0.2;
    private readonly Dictionary<CounterKey, State> _interfaces = [];
    private readonly int _maxInterfaces;

    public CounterRates(int maxInterfaces)
    {
        _maxInterfaces = maxInterfaces;
    }

    public long Resets { get; private set; }

    public long Overflow { get; private set; }

    public int Count => _interfaces.Count;

    public void Add(in InterfaceCounters counters, uint interfaceId)
    {
        var source = counters.Source == CounterSource.ProcNetDev ? TrafficSource.ProcNetDev : TrafficSource.SFlowCounters;
        var key = new CounterKey(source, counters.Exporter, interfaceId);
        if (!_interfaces.TryGetValue(key, out var state))
        {
            if (_interfaces.Count >= _maxInterfaces)
            {
                Overflow++;
                return;
            }

            _interfaces[key] = new State(counters, default, default, counters.TimestampMilliseconds, 0);
            return;
        }

        var seconds = (counters.TimestampMilliseconds - state.Last.TimestampMilliseconds) / 1000.0;
        if (seconds < MinimumIntervalSeconds)
        {
            return;
        }

        // sFlow packet counters are 32 bits and wrap; its octet counters and /proc/net/dev's are 64 bits.
        var packets32 = source == TrafficSource.SFlowCounters;
        var reset = false;
        var previous = state.Last;
        var inbound = default(TrafficCounts);
        inbound.Packets = (Delta(previous.InUnicastPackets, counters.InUnicastPackets, packets32, ref reset)
            + Delta(previous.InMulticastPackets, counters.InMulticastPackets, packets32, ref reset)
            + Delta(previous.InBroadcastPackets, counters.InBroadcastPackets, packets32, ref reset)) / seconds;
        inbound.Bytes = Delta(previous.InOctets, counters.InOctets, false, ref reset) / seconds;
        var outbound = default(TrafficCounts);
        outbound.Packets = (Delta(previous.OutUnicastPackets, counters.OutUnicastPackets, packets32, ref reset)
            + Delta(previous.OutMulticastPackets, counters.OutMulticastPackets, packets32, ref reset)
            + Delta(previous.OutBroadcastPackets, counters.OutBroadcastPackets, packets32, ref reset)) / seconds;
        outbound.Bytes = Delta(previous.OutOctets, counters.OutOctets, false, ref reset) / seconds;
        if (reset)
        {
            Resets++;
            inbound = default;
            outbound = default;
        }

        // A rate stays valid for three of its intervals: longer silence means the source stopped reporting.
        var validUntil = counters.TimestampMilliseconds + (long)(Math.Max(seconds, 1) * 3000);
        _interfaces[key] = new State(counters, inbound, outbound, validUntil, state.Misses);
    }

    /// <summary>Adds the current rate of every interface (both directions) and the node totals to the samples.</summary>
    public void Emit(long second, Dictionary<TrafficKey, int> merged, List<TrafficSample> samples)
    {
        var nowMilliseconds = second * 1000;
        foreach (var (key, state) in _interfaces)
        {
            if (state.ValidUntil < nowMilliseconds)
            {
                continue;
            }

            Add(TrafficKey.ForInterface(key.Source, key.Device, key.Interface, FlowDirection.Ingress), state.In, second, merged, samples);
            Add(TrafficKey.ForInterface(key.Source, key.Device, key.Interface, FlowDirection.Egress), state.Out, second, merged, samples);
            Add(TrafficKey.ForNode(key.Source), state.In, second, merged, samples);
        }
    }

    /// <summary>Forgets interfaces that have not reported for a long time.</summary>
    public void Evict(long second, int idleSeconds)
    {
        List<CounterKey>? stale = null;
        foreach (var (key, state) in _interfaces)
        {
            if ((second * 1000) - state.Last.TimestampMilliseconds > idleSeconds * 1000L)
            {
                (stale ??= []).Add(key);
            }
        }

        if (stale is not null)
        {
            foreach (var key in stale)
            {
                _interfaces.Remove(key);
            }
        }
    }

    private static void Add(TrafficKey key, in TrafficCounts counts, long second, Dictionary<TrafficKey, int> merged, List<TrafficSample> samples)
    {
        if (!merged.TryGetValue(key, out var index))
        {
            index = samples.Count;
            merged.Add(key, index);
            samples.Add(new TrafficSample { Key = key, Second = second });
        }

        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(samples)[index].Counts.Add(counts);
    }

    /// <summary>
    /// The increase of a counter. A 32-bit counter that fell back by more than half its range wrapped; any other
    /// decrease is a reset (and so is a 64-bit counter going backwards).
    /// </summary>
    private static double Delta(ulong previous, ulong current, bool is32Bit, ref bool reset)
    {
        if (current >= previous)
        {
            return current - previous;
        }

        if (is32Bit && previous <= uint.MaxValue && previous - current > int.MaxValue)
        {
            return ((ulong)uint.MaxValue + 1) - previous + current;
        }

        reset = true;
        return 0;
    }

    private readonly record struct CounterKey(TrafficSource Source, NetworkAddress Device, uint Interface);

    private readonly record struct State(InterfaceCounters Last, TrafficCounts In, TrafficCounts Out, long ValidUntil, int Misses);
}
