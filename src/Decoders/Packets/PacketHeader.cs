namespace FlowCollector.Decoders.Packets;

/// <summary>Link-layer header types of capture files and live captures (tcpdump.org LINKTYPE_ values).</summary>
public enum LinkType : ushort
{
    Null = 0,
    Ethernet = 1,
    RawLegacy12 = 12,
    RawLegacy14 = 14,
    Raw = 101,
    Loop = 108,
    LinuxSll = 113,
    IPv4 = 228,
    IPv6 = 229,
    LinuxSll2 = 276,
}

/// <summary>How parsing a packet header ended.</summary>
public enum PacketStatus : byte
{
    /// <summary>Parsed down to the transport header (or to IP for protocols without ports).</summary>
    Ok = 0,

    /// <summary>The frame ends before a header it announces; what came before is valid.</summary>
    Truncated,

    /// <summary>Not IP: ARP, STP, LLC, an unknown EtherType or link type.</summary>
    NotIp,

    /// <summary>An IP header is invalid (bad version, header length shorter than its minimum).</summary>
    Malformed,
}

/// <summary>
/// Whether tunnels are opened. Traffic seen on a link (sFlow samples, NetFlow) counts a GRE packet as GRE; frames
/// mirrored to the collector arrive wrapped in GRE, ERSPAN, TZSP or VXLAN, and only their contents count.
/// </summary>
public enum PacketParseMode : byte
{
    Observed = 0,
    Mirrored = 1,
}

/// <summary>The encapsulation a mirrored frame arrived in.</summary>
public enum Encapsulation : byte
{
    None = 0,
    Gre,
    ErspanTypeI,
    ErspanTypeII,
    ErspanTypeIII,
    Tzsp,
    Vxlan,
    Geneve,
}

/// <summary>What the headers of one packet say: addresses, protocol, ports, flags, and where the payload starts.</summary>
public struct PacketHeader
{
    /// <summary>Innermost 802.1Q VLAN ID, 0 when untagged.</summary>
    public ushort Vlan { get; set; }

    /// <summary>MPLS labels popped on the way to IP.</summary>
    public byte MplsLabels { get; set; }

    /// <summary>4 or 6; 0 when no IP header was found.</summary>
    public byte IpVersion { get; set; }

    public NetworkAddress SourceAddress { get; set; }

    public NetworkAddress DestinationAddress { get; set; }

    public byte Protocol { get; set; }

    /// <summary>IPv4 total length or IPv6 payload length plus 40: the packet's size above layer 2.</summary>
    public int IpLength { get; set; }

    public ushort SourcePort { get; set; }

    public ushort DestinationPort { get; set; }

    public byte TcpFlags { get; set; }

    public byte IcmpType { get; set; }

    public byte IcmpCode { get; set; }

    /// <summary>The packet is a fragment; only the first fragment carries ports.</summary>
    public bool IsFragment { get; set; }

    /// <summary>The transport header was found and read.</summary>
    public bool HasTransport { get; set; }

    /// <summary>Offset of the transport payload (after the UDP or TCP header) in the frame.</summary>
    public int PayloadOffset { get; set; }

    /// <summary>Bytes of transport payload present in the frame (may be less than announced when truncated).</summary>
    public int PayloadLength { get; set; }

    /// <summary>The UDP length field announced more payload than the frame holds.</summary>
    public bool PayloadTruncated { get; set; }

    /// <summary>The frame ended inside a header: later layers are missing.</summary>
    public bool IsTruncated { get; set; }

    /// <summary>The tunnel the frame was mirrored through, when parsed in <see cref="PacketParseMode.Mirrored"/>.</summary>
    public Encapsulation Encapsulation { get; set; }

    /// <summary>Outer source address of the mirroring tunnel: the device that mirrored the frame.</summary>
    public NetworkAddress TunnelSource { get; set; }

    /// <summary>ERSPAN session ID or VXLAN/Geneve network identifier.</summary>
    public uint TunnelSession { get; set; }

    /// <summary>ERSPAN type II port index: the mirrored port on the sending switch.</summary>
    public uint TunnelPort { get; set; }

    /// <summary>Where the innermost frame (or IP packet) starts, and what it starts with.</summary>
    public int InnerOffset { get; set; }

    public LinkType InnerLinkType { get; set; }
}
