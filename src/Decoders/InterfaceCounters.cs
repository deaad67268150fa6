namespace FlowCollector.Decoders;

/// <summary>Where interface counters came from.</summary>
public enum CounterSource : byte
{
    SFlow = 1,
    ProcNetDev = 2,
}

/// <summary>An interface's duplex and direction as sFlow generic counters state it (ifDirection).</summary>
public enum InterfaceDirection : byte
{
    Unknown = 0,
    FullDuplex = 1,
    HalfDuplex = 2,
    In = 3,
    Out = 4,
}

/// <summary>Which counters an exporter actually knows; sFlow sends all ones for a counter it does not keep.</summary>
[Flags]
public enum KnownCounters : ushort
{
    None = 0,
    InOctets = 1 << 0,
    InUnicast = 1 << 1,
    InMulticast = 1 << 2,
    InBroadcast = 1 << 3,
    InDiscards = 1 << 4,
    InErrors = 1 << 5,
    OutOctets = 1 << 6,
    OutUnicast = 1 << 7,
    OutMulticast = 1 << 8,
    OutBroadcast = 1 << 9,
    OutDiscards = 1 << 10,
    OutErrors = 1 << 11,
    FcsErrors = 1 << 12,
    Speed = 1 << 13,
}

/// <summary>
/// Absolute counters of one interface at one moment (sFlow counter samples, <c>/proc/net/dev</c>): the rate
/// aggregator turns two snapshots into a per-second delta. A counter not in <see cref="Known"/> is unknown.
/// </summary>
public struct InterfaceCounters
{
    public CounterSource Source { get; set; }

    /// <summary>The device that sent the counters (sFlow: the datagram's source), or none for local counters.</summary>
    public NetworkAddress Exporter { get; set; }

    /// <summary>sFlow sub-agent ID; 0 for local counters.</summary>
    public uint SubAgent { get; set; }

    public uint IfIndex { get; set; }

    /// <summary>Interface name where the source has one (<c>/proc/net/dev</c>); null for sFlow.</summary>
    public string? Name { get; set; }

    /// <summary>Bits per second; 0 when unknown.</summary>
    public ulong IfSpeed { get; set; }

    public InterfaceDirection Direction { get; set; }

    public bool IsUp { get; set; }

    public KnownCounters Known { get; set; }

    public ulong InOctets { get; set; }

    public ulong InUnicastPackets { get; set; }

    public ulong InMulticastPackets { get; set; }

    public ulong InBroadcastPackets { get; set; }

    public ulong InDiscards { get; set; }

    public ulong InErrors { get; set; }

    public ulong OutOctets { get; set; }

    public ulong OutUnicastPackets { get; set; }

    public ulong OutMulticastPackets { get; set; }

    public ulong OutBroadcastPackets { get; set; }

    public ulong OutDiscards { get; set; }

    public ulong OutErrors { get; set; }

    /// <summary>Ethernet frame check sequence errors (sFlow ethernet counters, dot3StatsFCSErrors).</summary>
    public ulong FcsErrors { get; set; }

    /// <summary>When the counters were read or received, Unix milliseconds.</summary>
    public long TimestampMilliseconds { get; set; }

    /// <summary>Packets received, of every cast that is known.</summary>
    public readonly ulong InPackets => InUnicastPackets + InMulticastPackets + InBroadcastPackets;

    /// <summary>Packets sent, of every cast that is known.</summary>
    public readonly ulong OutPackets => OutUnicastPackets + OutMulticastPackets + OutBroadcastPackets;

    public readonly bool Has(KnownCounters counters) => (Known & counters) == counters;
}
