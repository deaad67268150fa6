using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// The part of the per-second aggregation that one receive thread owns. It is written without contention by its
/// thread (one uncontended lock per datagram, never per record) and drained by the tick once a second.
/// A record lasting D seconds adds 1/D of its counts to each of the next D seconds: its rate now, not a spike.
/// </summary>
public sealed class AggregationShard : IFlowSink
{
    /// <summary>Seconds in the spreading wheel; spreads are shorter.</summary>
    public const int WheelSeconds = 128;

    private const byte ProtocolIcmp = 1;
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;
    private const byte ProtocolGre = 47;
    private const byte ProtocolIcmpV6 = 58;
    private const ushort TcpFin = 0x01;
    private const ushort TcpSyn = 0x02;
    private const ushort TcpRst = 0x04;
    private const ushort TcpAck = 0x10;

    /// <summary>The smallest IP packet (an IPv4 header alone): fewer bytes per packet than this is not IP traffic.</summary>
    private const ulong MinPacketBytes = 20;

    /// <summary>The largest IP packet, with room for link-layer headers that some exporters count.</summary>
    private const ulong MaxPacketBytes = 65_535 + 64;

    /// <summary>A record this much longer than whole seconds is spread over the whole seconds.</summary>
    private const long SpreadSlackMilliseconds = 100;


    private readonly RateAggregator _owner;
    private readonly object _gate = new();
    private readonly Dictionary<TrafficKey, int> _index = [];
    private readonly Stack<int> _free = new();
    // For each second ahead, what every slot's spreads stop contributing then: one entry per slot and second, however
    // many records end together, so the wheel's size depends on the keys, not on the record rate. The entries are
    // in a list; the index finds a slot's entry, and each slot remembers its latest so that most records skip it.
    private readonly List<WheelEntry>[] _wheel = new List<WheelEntry>[WheelSeconds];
    private readonly Dictionary<int, int>[] _wheelIndex = new Dictionary<int, int>[WheelSeconds];
    private Slot[] _slots = new Slot[256];

    // The node and interface keys repeat from record to record (one exporter, a few interfaces): the last slot of
    // each role is remembered so that most records skip the hash lookups. Cleared whenever a slot is freed.
    private RecentSlot _recentNode = RecentSlot.None;
    private RecentSlot _recentIngress = RecentSlot.None;
    private RecentSlot _recentEgress = RecentSlot.None;
    private RecentSlot _recentPrefix = RecentSlot.None;
    private int _used;
    private long _second;

    internal AggregationShard(RateAggregator owner, long second)
    {
        _owner = owner;
        _second = second;
        for (var i = 0; i < WheelSeconds; i++)
        {
            _wheel[i] = [];
            _wheelIndex[i] = [];
        }
    }

    /// <summary>Records whose destination got no key of its own because the destination cap was reached.</summary>
    public long DestinationOverflow { get; private set; }

    /// <summary>Records whose interface got no key of its own because the interface cap was reached.</summary>
    public long InterfaceOverflow { get; private set; }

    /// <summary>Keys this shard holds.</summary>
    public int KeyCount => _index.Count;

    /// <summary>Records not counted because their bytes per packet cannot be IP (fewer than a header, more than the largest packet).</summary>
    public long ImplausiblePacketSize { get; private set; }

    /// <summary>Records not counted because their rate (after sampling) is beyond any link's (<see cref="AggregationOptions.MaxRecordPps"/>, <see cref="AggregationOptions.MaxRecordBps"/>).</summary>
    public long ImplausibleRate { get; private set; }

    /// <summary>Records not counted because they claim more than twice the capacity of the interface they name.</summary>
    public long ImplausibleCapacity { get; private set; }

    /// <summary>The exporter of the latest implausible record, for the log.</summary>
    public NetworkAddress LastImplausibleExporter { get; private set; }

    /// <summary>Opens the shard for one datagram's records; dispose (or call <see cref="Exit"/>) when done.</summary>
    public void Enter() => Monitor.Enter(_gate);

    public void Exit() => Monitor.Exit(_gate);

    /// <summary>
    /// Counts one record under every key it belongs to, unless it is implausible: bytes per packet that no IP
    /// packet has, or a rate (after sampling, over its duration) that no link or only a faster link than its own
    /// could carry. Forged or garbled exports must not become floods. Call between <see cref="Enter"/> and
    /// <see cref="Exit"/>.
    /// </summary>
    public void OnFlow(in FlowRecord flow)
    {
        var rate = flow.SamplingRate == 0 ? 1.0 : flow.SamplingRate;
        var seconds = SpreadSeconds(flow);

        // Multiplications, not divisions, on the hot path (the packet count is bounded first so they cannot overflow).
        if (flow.Packets > 0 && flow.Bytes > 0
            && (flow.Bytes / MinPacketBytes < flow.Packets || (flow.Packets < ulong.MaxValue / MaxPacketBytes && flow.Bytes > flow.Packets * MaxPacketBytes)))
        {
            ImplausiblePacketSize++;
            LastImplausibleExporter = flow.Exporter;
            return;
        }

        var packets = flow.Packets * rate;
        var bits = flow.Bytes * rate * 8;
        if (packets > _owner.MaxRecordPps * seconds || bits > _owner.MaxRecordBps * seconds)
        {
            ImplausibleRate++;
            LastImplausibleExporter = flow.Exporter;
            return;
        }

        var source = SourceOf(flow.Format);

        // Interface 0 is the exporter's "unknown interface": exporters that fill no interfaces (softflowd, some
        // firewalls) still get rates of their own under it.
        var ingress = InterfaceSlot(source, flow.Exporter, flow.InputInterface, FlowDirection.Ingress, ref _recentIngress);
        var hasEgress = (flow.Attributes & (FlowAttributes.Discarded | FlowAttributes.MultipleOutputs)) == 0;
        var egress = hasEgress ? InterfaceSlot(source, flow.Exporter, flow.OutputInterface, FlowDirection.Egress, ref _recentEgress) : -1;
        // Capacities are looked at only once some link's is known: most collectors pay nothing for the check.
        if (_owner.Capacities.AnyKnown && ExceedsEither(ingress, egress, flow, bits, seconds))
        {
            ImplausibleCapacity++;
            LastImplausibleExporter = flow.Exporter;
            return;
        }

        // Filled in place: an initializer would build it aside and copy it whole.
        Contribution record = default;
        record.Seconds = seconds;
        // A TCP or UDP record with both ports 0 is made of non-first fragments: the exporter never saw their ports
        // (softflowd and many routers say nothing else of them). They count as fragments, and under no source port.
        var transport = flow.IpProtocol is ProtocolTcp or ProtocolUdp;
        var portless = transport && flow.SourcePort == 0 && flow.DestinationPort == 0;
        record.PortKey = transport && !portless ? TrafficSample.PortKey(flow.IpProtocol, flow.SourcePort) : uint.MaxValue;
        record.Source = flow.SourceAddress;
        record.Packets = packets;
        ref var counts = ref record.Counts;
        counts.Packets = packets;
        counts.Bytes = flow.Bytes * rate;
        counts.Flows = rate;
        switch (flow.IpProtocol)
        {
            case ProtocolTcp:
                counts.TcpPackets = packets;
                counts.TcpBytes = counts.Bytes;
                var flags = flow.TcpFlags;
                if ((flags & TcpSyn) != 0 && (flags & TcpAck) == 0)
                {
                    counts.SynPackets = packets;
                }
                else if ((flags & TcpRst) != 0)
                {
                    counts.RstPackets = packets;
                }
                else if ((flags & TcpAck) != 0 && (flags & (TcpSyn | TcpFin)) == 0)
                {
                    counts.AckPackets = packets;
                }

                break;
            case ProtocolUdp:
                counts.UdpPackets = packets;
                counts.UdpBytes = counts.Bytes;
                break;
            case ProtocolIcmp or ProtocolIcmpV6:
                counts.IcmpPackets = packets;
                counts.IcmpBytes = counts.Bytes;
                break;
            case ProtocolGre:
                counts.GrePackets = packets;
                counts.OtherBytes = counts.Bytes;
                break;
            default:
                counts.OtherPackets = packets;
                counts.OtherBytes = counts.Bytes;
                break;
        }

        if (portless || (flow.Attributes & FlowAttributes.Fragment) != 0)
        {
            counts.FragmentPackets = packets;
        }

        if (seconds > 1)
        {
            // The part of the record that counts in each of its seconds, worked out once for all its keys.
            record.PerSecond.Add(counts, 1.0 / seconds);
        }

        // The node total is the sum of the ingress interfaces, formed at the tick (one key less per record); a
        // record whose interface found no room under the cap is counted under the node key directly.
        if (ingress >= 0)
        {
            Add(ingress, record);
        }
        else
        {
            Count(TrafficKey.ForNode(source), ref _recentNode, record);
        }

        if (egress >= 0)
        {
            Add(egress, record);
        }

        if (!flow.HasAddresses)
        {
            return;
        }

        var prefix = _owner.Prefixes.Find(flow.DestinationAddress);
        if (prefix < 0)
        {
            return;
        }

        Count(TrafficKey.ForPrefix(prefix), ref _recentPrefix, record);
        var noRecent = RecentSlot.None;
        Count(TrafficKey.ForDestination(flow.DestinationAddress, prefix), ref noRecent, record);
    }

    /// <summary>Either interface of the record is asked to carry more than it can; kept out of line, off the common path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ExceedsEither(int ingress, int egress, in FlowRecord flow, double bits, int seconds) =>
        Exceeds(ingress, flow.Exporter, flow.InputInterface, bits, seconds) || Exceeds(egress, flow.Exporter, flow.OutputInterface, bits, seconds);

    /// <summary>
    /// True when a record's bits over its seconds are beyond twice what the interface of <paramref name="index"/> can carry. The
    /// capacity is looked up once per slot and again only when a capacity changes.
    /// </summary>
    private bool Exceeds(int index, NetworkAddress exporter, uint interfaceId, double bits, int seconds)
    {
        if (index < 0)
        {
            return false;
        }

        ref var slot = ref _slots[index];
        var capacities = _owner.Capacities;
        var version = capacities.Version;
        if (slot.CapacityVersion != version)
        {
            slot.CapacityBps = capacities.Of(exporter, interfaceId);
            slot.CapacityVersion = version;
        }

        return slot.CapacityBps > 0 && bits > InterfaceCapacities.Slack * slot.CapacityBps * seconds;
    }

    /// <summary>Counter snapshots go to the aggregator, which turns consecutive snapshots into rates.</summary>
    public void OnCounters(in InterfaceCounters counters) => _owner.AddCounters(counters);

    /// <summary>Rates come from the records; the sampled headers are evidence, which a shard does not keep.</summary>
    public void OnSampledHeader(ReadOnlySpan<byte> header, Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
    {
    }

    /// <summary>
    /// Adds what the current second holds so far (arrived plus spread) to <paramref name="samples"/> without closing
    /// it: counts only grow within a second, so a key over its threshold now will be over it at the tick.
    /// </summary>
    internal void Peek(long second, Dictionary<TrafficKey, int> merged, List<TrafficSample> samples)
    {
        lock (_gate)
        {
            for (var i = 0; i < _used; i++)
            {
                ref var slot = ref _slots[i];
                if (!slot.InUse || slot.Key.Kind is not (KeyKind.Destination or KeyKind.Interface or KeyKind.Prefix))
                {
                    continue;
                }

                var total = slot.Immediate;
                total.Add(slot.Ongoing);
                if (total.IsEmpty)
                {
                    continue;
                }

                Merge(second, merged, samples, in slot, in total);
            }
        }
    }

    /// <summary>
    /// Closes the current second: adds every key's counts (arrived now, and spread from earlier records) to the
    /// merged samples, and advances the wheel. Called by the tick with no other thread inside the shard.
    /// </summary>
    internal void Drain(long second, Dictionary<TrafficKey, int> merged, List<TrafficSample> samples, int idleSeconds)
    {
        lock (_gate)
        {
            for (var i = 0; i < _used; i++)
            {
                ref var slot = ref _slots[i];
                if (!slot.InUse)
                {
                    continue;
                }

                var total = slot.Immediate;
                total.Add(slot.Ongoing);
                if (!total.IsEmpty || slot.SourcePorts.Count > 0)
                {
                    Merge(second, merged, samples, in slot, in total);
                    slot.LastActive = second;
                }

                slot.Immediate = default;
                slot.SourcePorts.Clear();
                slot.Sources.Clear();
            }

            // Spreads that end with this second stop counting from the next one.
            var next = (int)((second + 1) % WheelSeconds);
            foreach (ref var entry in CollectionsMarshal.AsSpan(_wheel[next]))
            {
                ref var slot = ref _slots[entry.Slot];
                slot.Ongoing.Add(entry.Decrement, -1);
                slot.Ongoing.Settle();
                slot.PendingSpreads--;
            }

            _wheel[next].Clear();
            _wheelIndex[next].Clear();
            _second = second + 1;
            Evict(second, idleSeconds);
        }
    }

    /// <summary>Adds one slot's counts and summaries to the key's merged sample, creating it for the first shard.</summary>
    private static void Merge(long second, Dictionary<TrafficKey, int> merged, List<TrafficSample> samples, in Slot slot, in TrafficCounts total)
    {
        ref var target = ref CollectionsMarshal.GetValueRefOrAddDefault(merged, slot.Key, out var exists);
        if (!exists)
        {
            // The first shard with this key hands its summaries over whole (they are values, copied); merging into an
            // empty sample item by item was most of the tick's cost with ten thousand destinations.
            target = samples.Count;
            samples.Add(new TrafficSample { Key = slot.Key, Second = second, Counts = total, SourcePorts = slot.SourcePorts, Sources = slot.Sources });
        }
        else
        {
            ref var sample = ref CollectionsMarshal.AsSpan(samples)[target];
            sample.Counts.Add(total);
            sample.SourcePorts.Merge(slot.SourcePorts);
            sample.Sources.Merge(slot.Sources);
        }
    }

    private static TrafficSource SourceOf(ExportFormat format) => format switch
    {
        ExportFormat.Ipfix => TrafficSource.Ipfix,
        ExportFormat.SFlow => TrafficSource.SFlow,
        ExportFormat.Span => TrafficSource.Span,
        _ => TrafficSource.NetFlow,
    };

    /// <summary>
    /// Seconds a flow record is spread over: its duration, rounded up past a little slack, at least 1, at most the
    /// configured cut. Exporters close a flow a few milliseconds after its nominal lifetime (softflowd's two-second
    /// IPv6 records last 2,003 ms): spread over three seconds it would understate the rate by a third.
    /// </summary>
    private int SpreadSeconds(in FlowRecord flow)
    {
        if (flow.Format is not (ExportFormat.NetFlowV5 or ExportFormat.NetFlowV9 or ExportFormat.Ipfix))
        {
            return 1;
        }

        var milliseconds = flow.EndMilliseconds - flow.StartMilliseconds;
        if (milliseconds <= 1000 + SpreadSlackMilliseconds)
        {
            return 1;
        }

        return (int)Math.Min((milliseconds - SpreadSlackMilliseconds + 999) / 1000, _owner.MaxSpreadSeconds);
    }

    /// <summary>
    /// The slot of an interface key. Most records repeat their exporter's few interfaces: the key of the thread's
    /// latest record in that direction is compared part by part, and a key is built only when it differs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int InterfaceSlot(TrafficSource source, NetworkAddress exporter, uint interfaceId, FlowDirection direction, ref RecentSlot recent) =>
        recent.Index >= 0 && recent.Key.IsInterface(source, exporter, interfaceId, direction)
            ? recent.Index
            : Locate(TrafficKey.ForInterface(source, exporter, interfaceId, direction), ref recent);

    /// <summary>Counts under one key; false when the key had no room under its cap (counted as overflow).</summary>
    private bool Count(TrafficKey key, ref RecentSlot recent, in Contribution record)
    {
        var index = Locate(key, ref recent);
        if (index < 0)
        {
            return false;
        }

        Add(index, record);
        return true;
    }

    /// <summary>The slot of a key, made on first sight; -1 when the key had no room under its cap (counted as overflow).</summary>
    private int Locate(TrafficKey key, ref RecentSlot recent)
    {
        int index;
        if (recent.Index >= 0 && recent.Key.Equals(key))
        {
            return recent.Index;
        }

        if (!_index.TryGetValue(key, out index))
        {
            // New keys are bounded over all shards: a random-destination flood cannot grow memory.
            if (key.Kind == KeyKind.Interface && !_owner.TryReserveInterface())
            {
                InterfaceOverflow++;
                return -1;
            }

            if (key.Kind == KeyKind.Destination && !_owner.TryReserveDestination())
            {
                DestinationOverflow++;
                return -1;
            }

            index = Allocate(key);
        }

        recent = new RecentSlot(key, index);
        return index;
    }

    private void Add(int index, in Contribution record)
    {
        ref var slot = ref _slots[index];
        var seconds = record.Seconds;
        if (seconds <= 1)
        {
            slot.Immediate.Add(record.Counts);
        }
        else
        {
            slot.Ongoing.Add(record.PerSecond);
            var end = _second + seconds;
            var wheel = (int)(end % WheelSeconds);
            if (slot.WheelEnd != end)
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_wheelIndex[wheel], index, out var exists);
                if (!exists)
                {
                    entry = _wheel[wheel].Count;
                    _wheel[wheel].Add(new WheelEntry(index));
                    slot.PendingSpreads++;
                }

                slot.WheelEnd = end;
                slot.WheelEntry = entry;
            }

            CollectionsMarshal.AsSpan(_wheel[wheel])[slot.WheelEntry].Decrement.Add(record.PerSecond);
        }

        if (record.PortKey != uint.MaxValue)
        {
            slot.SourcePorts.Add(record.PortKey, record.Packets);
        }

        slot.Sources.Add(record.Source, record.Packets);
    }

    private int Allocate(TrafficKey key)
    {
        int index;
        if (_free.Count > 0)
        {
            index = _free.Pop();
        }
        else
        {
            if (_used == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }

            index = _used++;
        }

        _slots[index] = new Slot { Key = key, InUse = true, LastActive = _second, CapacityVersion = -1 };
        _index.Add(key, index);
        return index;
    }

    /// <summary>Forgets keys that have been silent for the idle time and have nothing left to spread.</summary>
    private void Evict(long second, int idleSeconds)
    {
        for (var i = 0; i < _used; i++)
        {
            ref var slot = ref _slots[i];
            if (slot.InUse && slot.PendingSpreads == 0 && second - slot.LastActive >= idleSeconds)
            {
                _index.Remove(slot.Key);
                if (slot.Key.Kind == KeyKind.Destination)
                {
                    _owner.ReleaseDestination();
                }
                else if (slot.Key.Kind == KeyKind.Interface)
                {
                    _owner.ReleaseInterface();
                }

                slot = default;
                _free.Push(i);
                _recentNode = RecentSlot.None;
                _recentIngress = RecentSlot.None;
                _recentEgress = RecentSlot.None;
                _recentPrefix = RecentSlot.None;
            }
        }
    }

    /// <summary>What one record adds under each of its keys, worked out once per record.</summary>
    private struct Contribution
    {
        public TrafficCounts Counts;
        public int Seconds;

        /// <summary>For a record spread over more than one second, <see cref="Counts"/> / <see cref="Seconds"/>: what it adds to each.</summary>
        public TrafficCounts PerSecond;

        /// <summary>Protocol and source port for the top-N, or <see cref="uint.MaxValue"/> when the protocol has no ports.</summary>
        public uint PortKey;
        public NetworkAddress Source;
        public double Packets;
    }

    /// <summary>What one slot's spreads stop contributing in one second of the wheel.</summary>
    private struct WheelEntry(int slot)
    {
        public readonly int Slot = slot;
        public TrafficCounts Decrement;
    }

    private readonly record struct RecentSlot(TrafficKey Key, int Index)
    {
        public static RecentSlot None => new(default, -1);
    }

    private struct Slot
    {
        public TrafficKey Key;
        public bool InUse;
        public long LastActive;
        public int PendingSpreads;

        /// <summary>The second the slot's latest spread ends, and its entry in that second's wheel list.</summary>
        public long WheelEnd;
        public int WheelEntry;
        public double CapacityBps;
        public int CapacityVersion;
        public TrafficCounts Immediate;
        public TrafficCounts Ongoing;
        public TopItems<uint> SourcePorts;
        public TopItems<NetworkAddress> Sources;
    }
}
