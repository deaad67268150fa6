namespace FlowCollector.Decoders;

/// <summary>The wire format a record was decoded from.</summary>
public enum ExportFormat : byte
{
    Unknown = 0,
    NetFlowV5 = 5,
    NetFlowV9 = 9,
    Ipfix = 10,
    SFlow = 20,
    Span = 30,
}

/// <summary>Which side of the observation point the exporter says the flow was seen on.</summary>
public enum FlowDirection : byte
{
    Unknown = 0,
    Ingress = 1,
    Egress = 2,
}

/// <summary>Facts about a record that are not values of their own.</summary>
[Flags]
public enum FlowAttributes : byte
{
    None = 0,

    /// <summary>The packets were IP fragments (more-fragments set or a non-zero offset).</summary>
    Fragment = 1,

    /// <summary>The record is the reverse half of a biflow (RFC 5103): source and destination were swapped.</summary>
    Reverse = 2,

    /// <summary>ICMP type and code are known.</summary>
    HasIcmp = 4,

    /// <summary>The packet header was cut short (sFlow header sampling, snap length): later layers may be missing.</summary>
    Truncated = 8,

    /// <summary>The device dropped the packet (sFlow output interface in discard format).</summary>
    Discarded = 16,

    /// <summary>The packet left on several interfaces (sFlow output interface in multiple format: flooding, multicast).</summary>
    MultipleOutputs = 32,
}

/// <summary>
/// One flow as an exporter reported it: who saw it, between which endpoints, how much, when and at which
/// sampling rate. Packets and bytes are as exported, not multiplied by the sampling rate.
/// </summary>
public struct FlowRecord
{
    public ExportFormat Format { get; set; }

    /// <summary>The device that exported the record (the datagram's source address).</summary>
    public NetworkAddress Exporter { get; set; }

    /// <summary>NetFlow v9 source ID, IPFIX observation domain, NetFlow v5 engine type and ID (type &lt;&lt; 8 | id).</summary>
    public uint ObservationDomain { get; set; }

    public uint InputInterface { get; set; }

    public uint OutputInterface { get; set; }

    /// <summary>4 or 6; 0 when the record carries no address.</summary>
    public byte IpVersion { get; set; }

    public NetworkAddress SourceAddress { get; set; }

    public NetworkAddress DestinationAddress { get; set; }

    public ushort SourcePort { get; set; }

    public ushort DestinationPort { get; set; }

    /// <summary>IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).</summary>
    public byte IpProtocol { get; set; }

    /// <summary>TCP control bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).</summary>
    public ushort TcpFlags { get; set; }

    public byte IcmpType { get; set; }

    public byte IcmpCode { get; set; }

    public ushort Vlan { get; set; }

    public FlowDirection Direction { get; set; }

    public FlowAttributes Attributes { get; set; }

    public ulong Packets { get; set; }

    /// <summary>
    /// IP-layer bytes, comparable across sources: as exported for NetFlow and IPFIX, the IP packet's length for
    /// sFlow samples and mirrored frames (frame length less link header and FCS when no IP header was seen).
    /// </summary>
    public ulong Bytes { get; set; }

    /// <summary>One packet in <c>SamplingRate</c> was seen; 1 when unsampled.</summary>
    public uint SamplingRate { get; set; }

    /// <summary>The sampler the exporter named (NetFlow v9 field 48, IPFIX selectorId 302); 0 when none.</summary>
    public uint SamplerId { get; set; }

    /// <summary>Length of the sampled or mirrored frame on the wire (sFlow frame_length, with FCS); 0 for flow exports.</summary>
    public uint FrameLength { get; set; }

    /// <summary>Flow start, Unix time in milliseconds.</summary>
    public long StartMilliseconds { get; set; }

    /// <summary>Flow end, Unix time in milliseconds.</summary>
    public long EndMilliseconds { get; set; }

    public readonly bool HasAddresses => IpVersion != 0;

    public readonly DateTimeOffset Start => DateTimeOffset.FromUnixTimeMilliseconds(StartMilliseconds);

    public readonly DateTimeOffset End => DateTimeOffset.FromUnixTimeMilliseconds(EndMilliseconds);
}

/// <summary>Receives what a decoder finds; a struct implementation lets the JIT devirtualise the call.</summary>
public interface IFlowSink
{
    void OnFlow(in FlowRecord flow);

    /// <summary>Interface counters from the same source (sFlow counter samples).</summary>
    void OnCounters(in InterfaceCounters counters);

    /// <summary>
    /// The sampled packet's first bytes that an sFlow flow sample carried, after its record went to
    /// <see cref="OnFlow"/>: <paramref name="frameLength"/> is the packet's length on the wire. Lent for the call only.
    /// </summary>
    void OnSampledHeader(ReadOnlySpan<byte> header, Packets.LinkType linkType, uint frameLength, long receivedMilliseconds);
}
