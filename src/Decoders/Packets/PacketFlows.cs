namespace FlowCollector.Decoders.Packets;

/// <summary>
/// Turns packet headers into one-packet flow records: the path of sFlow samples and of mirrored frames
/// (SPAN, ERSPAN, GRE, TZSP), which then aggregate exactly like exported flows.
/// </summary>
public static class PacketFlows
{
    private const int EthernetFcsLength = 4;

    /// <summary>Copies what a parsed packet header says into a one-packet flow record; Bytes becomes the IP length.</summary>
    public static void Apply(in PacketHeader packet, ref FlowRecord flow)
    {
        if (packet.Vlan != 0)
        {
            flow.Vlan = packet.Vlan;
        }

        if (packet.IpVersion != 0)
        {
            flow.IpVersion = packet.IpVersion;
            flow.SourceAddress = packet.SourceAddress;
            flow.DestinationAddress = packet.DestinationAddress;
            flow.IpProtocol = packet.Protocol;
            flow.Bytes = (ulong)packet.IpLength;
            flow.SourcePort = packet.SourcePort;
            flow.DestinationPort = packet.DestinationPort;
            flow.TcpFlags = packet.TcpFlags;
            if (packet.Protocol is PacketHeaderParser.ProtocolIcmp or PacketHeaderParser.ProtocolIcmpV6 && packet.HasTransport)
            {
                flow.IcmpType = packet.IcmpType;
                flow.IcmpCode = packet.IcmpCode;
                flow.Attributes |= FlowAttributes.HasIcmp;
            }

            if (packet.IsFragment)
            {
                flow.Attributes |= FlowAttributes.Fragment;
            }
        }

        if (packet.IsTruncated)
        {
            flow.Attributes |= FlowAttributes.Truncated;
        }
    }

    /// <summary>
    /// Decodes one mirrored frame into a one-packet record with sampling rate 1. The tunnel it arrived in names the
    /// exporter (the mirroring device), the ERSPAN session or VXLAN network the domain, and the ERSPAN port index the
    /// input interface. <paramref name="wireLength"/> is the frame's original length (a capture may hold less).
    /// Returns false for frames without IP (ARP, STP, LLDP, ...).
    /// </summary>
    public static bool TryDecodeMirrored(ReadOnlySpan<byte> frame, LinkType linkType, int wireLength, long timestampMilliseconds, out FlowRecord flow)
    {
        PacketHeaderParser.Parse(frame, linkType, out var header, PacketParseMode.Mirrored);
        return TryBuild(header, wireLength, timestampMilliseconds, out flow);
    }

    /// <summary>Decodes a mirrored frame that arrived as the payload of a UDP datagram (TZSP, VXLAN, Geneve).</summary>
    public static bool TryDecodeTunnelPayload(ReadOnlySpan<byte> payload, Encapsulation encapsulation, NetworkAddress sender, long timestampMilliseconds, out FlowRecord flow)
    {
        PacketHeaderParser.ParseTunnelPayload(payload, encapsulation, sender, out var header);
        return TryBuild(header, payload.Length, timestampMilliseconds, out flow);
    }

    private static bool TryBuild(in PacketHeader header, int wireLength, long timestampMilliseconds, out FlowRecord flow)
    {
        if (header.IpVersion == 0)
        {
            flow = default;
            return false;
        }

        var frameLength = Math.Max(0, wireLength - header.InnerOffset);
        flow = new FlowRecord
        {
            Format = ExportFormat.Span,
            Exporter = header.TunnelSource,
            ObservationDomain = header.TunnelSession,
            InputInterface = header.TunnelPort,
            Packets = 1,
            SamplingRate = 1,
            FrameLength = (uint)frameLength,
            StartMilliseconds = timestampMilliseconds,
            EndMilliseconds = timestampMilliseconds,
        };
        Apply(header, ref flow);
        if (header.IpLength == 0)
        {
            // IPv4 total length 0 (TSO/GSO captures): the frame's length is the best evidence.
            flow.Bytes = (ulong)Math.Max(0, frameLength - (header.InnerLinkType == LinkType.Ethernet ? 14 : 0));
        }

        return true;
    }

    /// <summary>Bytes of a non-IP Ethernet frame of the given length on the wire, FCS excluded.</summary>
    internal static ulong WithoutFcs(uint frameLength) => frameLength > EthernetFcsLength ? frameLength - EthernetFcsLength : 0;
}
