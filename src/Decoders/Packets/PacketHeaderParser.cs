using System.Buffers.Binary;

namespace FlowCollector.Decoders.Packets;

/// <summary>
/// Reads packet headers in place, from the link layer down to TCP/UDP/ICMP, without allocating or throwing:
/// Ethernet, 802.1Q/802.1ad tags, MPLS label stacks, IPv4 with options and fragments, IPv6 with extension
/// headers, and in <see cref="PacketParseMode.Mirrored"/> the tunnels mirrored frames arrive in (GRE with its
/// C/K/S flags, ERSPAN types I, II and III, TZSP, VXLAN, Geneve). Every offset is checked against the bytes
/// present: a truncated packet yields what it contains and says so.
/// </summary>
public static class PacketHeaderParser
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeIPv6 = 0x86DD;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88A8;
    public const ushort EtherTypeQinQLegacy = 0x9100;
    public const ushort EtherTypeMplsUnicast = 0x8847;
    public const ushort EtherTypeMplsMulticast = 0x8848;
    public const ushort EtherTypeTransparentBridging = 0x6558;
    public const ushort EtherTypeErspan = 0x88BE;
    public const ushort EtherTypeErspanTypeIII = 0x22EB;

    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolGre = 47;
    public const byte ProtocolIcmpV6 = 58;

    public const ushort TzspPort = 37008;
    public const ushort VxlanPort = 4789;
    public const ushort GenevePort = 6081;

    private const int EthernetHeaderLength = 14;
    private const int VlanTagLength = 4;
    private const int MplsLabelLength = 4;
    private const int LinuxSllLength = 16;
    private const int LinuxSll2Length = 20;
    private const int NullHeaderLength = 4;
    private const int IPv4MinimumHeaderLength = 20;
    private const int IPv6HeaderLength = 40;
    private const int UdpHeaderLength = 8;
    private const int TcpMinimumHeaderLength = 20;
    private const int ErspanTypeIILength = 8;
    private const int ErspanTypeIIILength = 12;
    private const int ErspanPlatformSubheaderLength = 8;
    private const int VxlanHeaderLength = 8;
    private const int GeneveHeaderLength = 8;
    private const int MaxVlanTags = 8;
    private const int MaxMplsLabels = 16;
    private const int MaxExtensionHeaders = 16;
    private const int MaxTzspTags = 64;
    private const int MaxTunnels = 3;

    /// <summary>Parses a frame of the given link type.</summary>
    public static PacketStatus Parse(ReadOnlySpan<byte> frame, LinkType linkType, out PacketHeader header, PacketParseMode mode = PacketParseMode.Observed)
    {
        header = default;
        var walk = new Walk(mode);
        var status = walk.Link(frame, 0, linkType, ref header);
        if (status == PacketStatus.Truncated)
        {
            header.IsTruncated = true;
        }

        return status;
    }

    /// <summary>
    /// Parses the payload of a UDP datagram that carries a mirrored frame (TZSP, VXLAN or Geneve), as received on a
    /// UDP socket: <paramref name="tunnelSource"/> is the datagram's sender, the device that mirrored the frame.
    /// </summary>
    public static PacketStatus ParseTunnelPayload(ReadOnlySpan<byte> payload, Encapsulation encapsulation, NetworkAddress tunnelSource, out PacketHeader header)
    {
        header = default;
        header.SourceAddress = tunnelSource;
        header.DestinationPort = encapsulation switch
        {
            Encapsulation.Tzsp => TzspPort,
            Encapsulation.Vxlan => VxlanPort,
            Encapsulation.Geneve => GenevePort,
            _ => 0,
        };
        var walk = new Walk(PacketParseMode.Mirrored);
        var status = header.DestinationPort == 0 ? PacketStatus.NotIp : walk.UdpTunnel(payload, 0, payload.Length, ref header);
        if (header.Encapsulation == Encapsulation.None)
        {
            header = default;
            return status == PacketStatus.Truncated ? status : PacketStatus.NotIp;
        }

        if (status == PacketStatus.Truncated)
        {
            header.IsTruncated = true;
        }

        return status;
    }

    /// <summary>One pass over one frame; counts the tunnels opened so that nesting cannot recurse without end.</summary>
    private ref struct Walk(PacketParseMode mode)
    {
        private readonly PacketParseMode _mode = mode;
        private int _tunnels;

        public PacketStatus Link(ReadOnlySpan<byte> frame, int offset, LinkType linkType, ref PacketHeader header)
        {
            switch (linkType)
            {
                case LinkType.Ethernet:
                    return Ethernet(frame, offset, ref header);
                case LinkType.Raw or LinkType.RawLegacy12 or LinkType.RawLegacy14:
                    return IpByVersion(frame, offset, ref header);
                case LinkType.IPv4:
                    Inner(ref header, offset, LinkType.Raw);
                    return IPv4(frame, offset, ref header);
                case LinkType.IPv6:
                    Inner(ref header, offset, LinkType.Raw);
                    return IPv6(frame, offset, ref header);
                case LinkType.LinuxSll:
                    return frame.Length - offset < LinuxSllLength
                        ? PacketStatus.Truncated
                        : EtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 14)..]), offset + LinuxSllLength, ref header);
                case LinkType.LinuxSll2:
                    return frame.Length - offset < LinuxSll2Length
                        ? PacketStatus.Truncated
                        : EtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]), offset + LinuxSll2Length, ref header);
                case LinkType.Null or LinkType.Loop:
                    // A 4-byte address family in host order (Null) or network order (Loop); the IP version says the rest.
                    return frame.Length - offset < NullHeaderLength ? PacketStatus.Truncated : IpByVersion(frame, offset + NullHeaderLength, ref header);
                default:
                    return PacketStatus.NotIp;
            }
        }

        private static void Inner(ref PacketHeader header, int offset, LinkType linkType)
        {
            header.InnerOffset = offset;
            header.InnerLinkType = linkType;
        }

        /// <summary>Ethernet II, then tags, MPLS or IP by EtherType.</summary>
        private PacketStatus Ethernet(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            Inner(ref header, offset, LinkType.Ethernet);
            if (frame.Length - offset < EthernetHeaderLength)
            {
                return PacketStatus.Truncated;
            }

            return EtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 12)..]), offset + EthernetHeaderLength, ref header);
        }

        private PacketStatus EtherType(ReadOnlySpan<byte> frame, ushort etherType, int offset, ref PacketHeader header)
        {
            for (var tags = 0; etherType is EtherTypeVlan or EtherTypeQinQ or EtherTypeQinQLegacy; tags++)
            {
                if (tags == MaxVlanTags || frame.Length - offset < VlanTagLength)
                {
                    return PacketStatus.Truncated;
                }

                header.Vlan = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]) & 0x0FFF);
                etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                offset += VlanTagLength;
            }

            return etherType switch
            {
                EtherTypeIPv4 => IPv4(frame, offset, ref header),
                EtherTypeIPv6 => IPv6(frame, offset, ref header),
                EtherTypeMplsUnicast or EtherTypeMplsMulticast => Mpls(frame, offset, ref header),
                _ => PacketStatus.NotIp,
            };
        }

        /// <summary>
        /// An MPLS label stack (RFC 3032), popped to its bottom; the first nibble after it says IPv4 (4), IPv6 (6)
        /// or a pseudowire control word (0) before an Ethernet frame (RFC 4385).
        /// </summary>
        private PacketStatus Mpls(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            for (var labels = 0; ; labels++)
            {
                if (labels == MaxMplsLabels || frame.Length - offset < MplsLabelLength)
                {
                    return PacketStatus.Truncated;
                }

                var bottom = (frame[offset + 2] & 0x01) != 0;
                offset += MplsLabelLength;
                header.MplsLabels++;
                if (bottom)
                {
                    break;
                }
            }

            if (frame.Length <= offset)
            {
                return PacketStatus.Truncated;
            }

            return (frame[offset] >> 4) switch
            {
                4 => IpAt(frame, offset, ref header),
                6 => IpAt(frame, offset, ref header),
                0 when frame.Length - offset >= 4 => Ethernet(frame, offset + 4, ref header),
                _ => PacketStatus.NotIp,
            };
        }

        private PacketStatus IpAt(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            Inner(ref header, offset, LinkType.Raw);
            return (frame[offset] >> 4) == 4 ? IPv4(frame, offset, ref header) : IPv6(frame, offset, ref header);
        }

        private PacketStatus IpByVersion(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            Inner(ref header, offset, LinkType.Raw);
            if (frame.Length <= offset)
            {
                return PacketStatus.Truncated;
            }

            return (frame[offset] >> 4) switch
            {
                4 => IPv4(frame, offset, ref header),
                6 => IPv6(frame, offset, ref header),
                _ => PacketStatus.NotIp,
            };
        }

        /// <summary>IPv4 (RFC 791): header length from IHL, options skipped; only the first fragment has ports.</summary>
        private PacketStatus IPv4(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            if (frame.Length - offset < IPv4MinimumHeaderLength)
            {
                return PacketStatus.Truncated;
            }

            var ip = frame[offset..];
            if (ip[0] >> 4 != 4)
            {
                return PacketStatus.Malformed;
            }

            var headerLength = (ip[0] & 0x0F) * 4;
            if (headerLength < IPv4MinimumHeaderLength)
            {
                return PacketStatus.Malformed;
            }

            header.IpVersion = 4;
            header.IpLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            var fragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
            var fragmentOffset = fragment & 0x1FFF;
            header.IsFragment = (fragment & 0x2000) != 0 || fragmentOffset != 0;
            header.Protocol = ip[9];
            header.SourceAddress = NetworkAddress.FromIPv4(ip[12..]);
            header.DestinationAddress = NetworkAddress.FromIPv4(ip[16..]);
            if (ip.Length < headerLength)
            {
                return PacketStatus.Truncated;
            }

            if (fragmentOffset != 0)
            {
                return PacketStatus.Ok;
            }

            var ipEnd = header.IpLength >= headerLength ? offset + header.IpLength : frame.Length;
            return Transport(frame, offset + headerLength, Math.Min(ipEnd, frame.Length), ipEnd, ref header);
        }

        /// <summary>IPv6 (RFC 8200) with its extension headers; a non-first fragment has no transport header.</summary>
        private PacketStatus IPv6(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
        {
            if (frame.Length - offset < IPv6HeaderLength)
            {
                return PacketStatus.Truncated;
            }

            var ip = frame[offset..];
            if (ip[0] >> 4 != 6)
            {
                return PacketStatus.Malformed;
            }

            header.IpVersion = 6;
            var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            header.IpLength = payloadLength + IPv6HeaderLength;
            header.SourceAddress = NetworkAddress.FromIPv6(ip[8..]);
            header.DestinationAddress = NetworkAddress.FromIPv6(ip[24..]);
            var next = ip[6];
            var position = offset + IPv6HeaderLength;
            var ipEnd = payloadLength == 0 ? frame.Length : offset + header.IpLength;
            for (var i = 0; i < MaxExtensionHeaders; i++)
            {
                if (next is 0 or 43 or 60 or 135 or 139 or 140)
                {
                    // Hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-octet units beyond the first.
                    if (frame.Length - position < 2)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    next = frame[position];
                    position += (frame[position + 1] + 1) * 8;
                }
                else if (next == 44)
                {
                    // Fragment header: 8 bytes; a non-zero offset means the transport header is in another fragment.
                    if (frame.Length - position < 8)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    header.IsFragment = true;
                    var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(frame[(position + 2)..]) & 0xFFF8;
                    next = frame[position];
                    position += 8;
                    if (fragmentOffset != 0)
                    {
                        header.Protocol = next;
                        return PacketStatus.Ok;
                    }
                }
                else if (next == 51)
                {
                    // Authentication header: length in 4-octet units minus 2.
                    if (frame.Length - position < 2)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    next = frame[position];
                    position += (frame[position + 1] + 2) * 4;
                }
                else
                {
                    break;
                }
            }

            header.Protocol = next;
            if (position > frame.Length)
            {
                return PacketStatus.Truncated;
            }

            return Transport(frame, position, Math.Min(ipEnd, frame.Length), ipEnd, ref header);
        }

        /// <summary>TCP, UDP, ICMP and ICMPv6 headers; in mirrored mode GRE and the UDP tunnels are opened.</summary>
        private PacketStatus Transport(ReadOnlySpan<byte> frame, int offset, int end, int announcedEnd, ref PacketHeader header)
        {
            var available = end - offset;
            switch (header.Protocol)
            {
                case ProtocolUdp:
                    if (available < UdpHeaderLength)
                    {
                        return PacketStatus.Truncated;
                    }

                    header.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                    header.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                    var udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 4)..]);
                    var announced = udpLength >= UdpHeaderLength ? udpLength - UdpHeaderLength : announcedEnd - offset - UdpHeaderLength;
                    header.HasTransport = true;
                    header.PayloadOffset = offset + UdpHeaderLength;
                    header.PayloadLength = Math.Max(0, Math.Min(announced, available - UdpHeaderLength));
                    header.PayloadTruncated = header.PayloadLength < announced;
                    if (_mode == PacketParseMode.Mirrored && !header.IsFragment)
                    {
                        return UdpTunnel(frame, header.PayloadOffset, header.PayloadOffset + header.PayloadLength, ref header);
                    }

                    return PacketStatus.Ok;
                case ProtocolTcp:
                    if (available >= 4)
                    {
                        header.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                        header.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                    }

                    if (available < 14)
                    {
                        return PacketStatus.Truncated;
                    }

                    header.TcpFlags = frame[offset + 13];
                    header.HasTransport = true;
                    var dataOffset = Math.Max(TcpMinimumHeaderLength, (frame[offset + 12] >> 4) * 4);
                    header.PayloadOffset = Math.Min(end, offset + dataOffset);
                    header.PayloadLength = end - header.PayloadOffset;
                    return available < TcpMinimumHeaderLength ? PacketStatus.Truncated : PacketStatus.Ok;
                case ProtocolIcmp or ProtocolIcmpV6:
                    if (available < 2)
                    {
                        return PacketStatus.Truncated;
                    }

                    header.IcmpType = frame[offset];
                    header.IcmpCode = frame[offset + 1];
                    header.HasTransport = true;
                    return PacketStatus.Ok;
                case ProtocolGre when _mode == PacketParseMode.Mirrored:
                    return Gre(frame, offset, end, ref header);
                default:
                    return PacketStatus.Ok;
            }
        }

        /// <summary>
        /// Starts the inner packet of a tunnel: the outer addresses become the tunnel's, the rest is forgotten.
        /// Returns false when too many tunnels are nested.
        /// </summary>
        private bool EnterTunnel(ref PacketHeader header, Encapsulation encapsulation)
        {
            if (++_tunnels > MaxTunnels)
            {
                return false;
            }

            if (header.Encapsulation == Encapsulation.None)
            {
                header.Encapsulation = encapsulation;
                header.TunnelSource = header.SourceAddress;
            }

            header.Vlan = 0;
            header.MplsLabels = 0;
            header.IpVersion = 0;
            header.SourceAddress = default;
            header.DestinationAddress = default;
            header.Protocol = 0;
            header.IpLength = 0;
            header.SourcePort = 0;
            header.DestinationPort = 0;
            header.TcpFlags = 0;
            header.IcmpType = 0;
            header.IcmpCode = 0;
            header.IsFragment = false;
            header.HasTransport = false;
            header.PayloadOffset = 0;
            header.PayloadLength = 0;
            header.PayloadTruncated = false;
            return true;
        }

        /// <summary>
        /// GRE (RFC 2784/2890): checksum, key and sequence words follow the first word when their C, K and S flags
        /// are set. Carries ERSPAN (type I without a header, II with 8 bytes when S is set, III with 12 bytes and an
        /// optional 8-byte platform sub-header), Ethernet (transparent bridging) or IP.
        /// </summary>
        private PacketStatus Gre(ReadOnlySpan<byte> frame, int offset, int end, ref PacketHeader header)
        {
            if (end - offset < 4)
            {
                return PacketStatus.Truncated;
            }

            var flags = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
            var protocol = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
            var hasSequence = (flags & 0x1000) != 0;
            if ((flags & 0x0007) != 0 || (flags & 0x4000) != 0)
            {
                // Version 1 (PPTP) and source routing are not how mirrored traffic travels.
                return PacketStatus.Ok;
            }

            var length = 4 + ((flags & 0x8000) != 0 ? 4 : 0) + ((flags & 0x2000) != 0 ? 4 : 0) + (hasSequence ? 4 : 0);
            var inner = offset + length;
            if (inner > end)
            {
                return PacketStatus.Truncated;
            }

            switch (protocol)
            {
                case EtherTypeErspan when !hasSequence:
                    return EnterTunnel(ref header, Encapsulation.ErspanTypeI) ? Ethernet(frame[..end], inner, ref header) : PacketStatus.Ok;
                case EtherTypeErspan:
                    if (end - inner < ErspanTypeIILength)
                    {
                        return PacketStatus.Truncated;
                    }

                    var word0 = BinaryPrimitives.ReadUInt32BigEndian(frame[inner..]);
                    var word1 = BinaryPrimitives.ReadUInt32BigEndian(frame[(inner + 4)..]);
                    if (!EnterTunnel(ref header, Encapsulation.ErspanTypeII))
                    {
                        return PacketStatus.Ok;
                    }

                    header.TunnelSession = word0 & 0x3FF;
                    header.TunnelPort = word1 & 0xFFFFF;
                    return Ethernet(frame[..end], inner + ErspanTypeIILength, ref header);
                case EtherTypeErspanTypeIII:
                    if (end - inner < ErspanTypeIIILength)
                    {
                        return PacketStatus.Truncated;
                    }

                    var session = BinaryPrimitives.ReadUInt32BigEndian(frame[inner..]) & 0x3FF;
                    var word2 = BinaryPrimitives.ReadUInt32BigEndian(frame[(inner + 8)..]);
                    var frameType = (word2 >> 10) & 0x1F;
                    var payload = inner + ErspanTypeIIILength + ((word2 & 0x1) != 0 ? ErspanPlatformSubheaderLength : 0);
                    if (payload > end)
                    {
                        return PacketStatus.Truncated;
                    }

                    if (!EnterTunnel(ref header, Encapsulation.ErspanTypeIII))
                    {
                        return PacketStatus.Ok;
                    }

                    header.TunnelSession = session;
                    return frameType switch
                    {
                        0 => Ethernet(frame[..end], payload, ref header),
                        2 => IpByVersion(frame[..end], payload, ref header),
                        _ => PacketStatus.NotIp,
                    };
                case EtherTypeTransparentBridging:
                    return EnterTunnel(ref header, Encapsulation.Gre) ? Ethernet(frame[..end], inner, ref header) : PacketStatus.Ok;
                case EtherTypeIPv4 or EtherTypeIPv6:
                    return EnterTunnel(ref header, Encapsulation.Gre) ? IpByVersion(frame[..end], inner, ref header) : PacketStatus.Ok;
                default:
                    return PacketStatus.Ok;
            }
        }

        /// <summary>TZSP (MikroTik's sniffer stream), VXLAN (RFC 7348) and Geneve (RFC 8926) on their UDP ports.</summary>
        public PacketStatus UdpTunnel(ReadOnlySpan<byte> frame, int offset, int end, ref PacketHeader header)
        {
            return header.DestinationPort switch
            {
                TzspPort => Tzsp(frame, offset, end, ref header),
                VxlanPort => Vxlan(frame, offset, end, ref header),
                GenevePort => Geneve(frame, offset, end, ref header),
                _ => PacketStatus.Ok,
            };
        }

        /// <summary>
        /// TZSP: version 1, a type, the encapsulated protocol (1 is Ethernet), then tagged fields up to the END
        /// tag (1); padding tags (0) are one byte, the others carry a length byte.
        /// </summary>
        private PacketStatus Tzsp(ReadOnlySpan<byte> frame, int offset, int end, ref PacketHeader header)
        {
            if (end - offset < 4)
            {
                return PacketStatus.Truncated;
            }

            if (frame[offset] != 1 || BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]) != 1)
            {
                return PacketStatus.Ok;
            }

            var position = offset + 4;
            for (var tags = 0; ; tags++)
            {
                if (position >= end || tags == MaxTzspTags)
                {
                    return PacketStatus.Truncated;
                }

                var tag = frame[position];
                if (tag == 1)
                {
                    position++;
                    break;
                }

                if (tag == 0)
                {
                    position++;
                    continue;
                }

                if (position + 2 > end)
                {
                    return PacketStatus.Truncated;
                }

                position += 2 + frame[position + 1];
            }

            return EnterTunnel(ref header, Encapsulation.Tzsp) ? Ethernet(frame[..end], position, ref header) : PacketStatus.Ok;
        }

        private PacketStatus Vxlan(ReadOnlySpan<byte> frame, int offset, int end, ref PacketHeader header)
        {
            if (end - offset < VxlanHeaderLength)
            {
                return PacketStatus.Truncated;
            }

            if ((frame[offset] & 0x08) == 0)
            {
                return PacketStatus.Ok;
            }

            var network = (uint)((frame[offset + 4] << 16) | (frame[offset + 5] << 8) | frame[offset + 6]);
            if (!EnterTunnel(ref header, Encapsulation.Vxlan))
            {
                return PacketStatus.Ok;
            }

            header.TunnelSession = network;
            return Ethernet(frame[..end], offset + VxlanHeaderLength, ref header);
        }

        private PacketStatus Geneve(ReadOnlySpan<byte> frame, int offset, int end, ref PacketHeader header)
        {
            if (end - offset < GeneveHeaderLength)
            {
                return PacketStatus.Truncated;
            }

            var optionsLength = (frame[offset] & 0x3F) * 4;
            var protocol = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
            var network = (uint)((frame[offset + 4] << 16) | (frame[offset + 5] << 8) | frame[offset + 6]);
            var inner = offset + GeneveHeaderLength + optionsLength;
            if (inner > end)
            {
                return PacketStatus.Truncated;
            }

            if (protocol is not (EtherTypeTransparentBridging or EtherTypeIPv4 or EtherTypeIPv6) || !EnterTunnel(ref header, Encapsulation.Geneve))
            {
                return PacketStatus.Ok;
            }

            header.TunnelSession = network;
            return protocol == EtherTypeTransparentBridging ? Ethernet(frame[..end], inner, ref header) : IpByVersion(frame[..end], inner, ref header);
        }
    }
}
