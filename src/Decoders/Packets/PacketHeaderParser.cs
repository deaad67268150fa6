using System.Buffers.Binary;

namespace FlowCollector.Decoders.Packets;

/// <summary>
/// Reads packet headers in place, from the link layer down to TCP/UDP/ICMP, without allocating or throwing.
/// Every offset is checked against the bytes present: a truncated packet yields what it contains.
/// </summary>
public static class PacketHeaderParser
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeIPv6 = 0x86DD;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88A8;
    public const ushort EtherTypeQinQLegacy = 0x9100;

    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolIcmpV6 = 58;

    private const int EthernetHeaderLength = 14;
    private const int VlanTagLength = 4;
    private const int LinuxSllLength = 16;
    private const int LinuxSll2Length = 20;
    private const int NullHeaderLength = 4;
    private const int IPv4MinimumHeaderLength = 20;
    private const int IPv6HeaderLength = 40;
    private const int UdpHeaderLength = 8;
    private const int TcpMinimumHeaderLength = 20;
    private const int MaxVlanTags = 8;
    private const int MaxExtensionHeaders = 16;

    /// <summary>Parses a captured frame of the given link type.</summary>
    public static PacketStatus Parse(ReadOnlySpan<byte> frame, LinkType linkType, out PacketHeader header)
    {
        header = default;
        switch (linkType)
        {
            case LinkType.Ethernet:
                return ParseEthernet(frame, 0, ref header);
            case LinkType.Raw or LinkType.RawLegacy12 or LinkType.RawLegacy14:
                return ParseIpByVersion(frame, 0, ref header);
            case LinkType.IPv4:
                return ParseIPv4(frame, 0, ref header);
            case LinkType.IPv6:
                return ParseIPv6(frame, 0, ref header);
            case LinkType.LinuxSll:
                return frame.Length < LinuxSllLength
                    ? PacketStatus.Truncated
                    : ParseEtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame[14..]), LinuxSllLength, ref header);
            case LinkType.LinuxSll2:
                return frame.Length < LinuxSll2Length
                    ? PacketStatus.Truncated
                    : ParseEtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame), LinuxSll2Length, ref header);
            case LinkType.Null or LinkType.Loop:
                // A 4-byte address family in the capturing host's byte order (Null) or network order (Loop);
                // the IP version nibble says the rest.
                return frame.Length < NullHeaderLength ? PacketStatus.Truncated : ParseIpByVersion(frame, NullHeaderLength, ref header);
            default:
                return PacketStatus.NotIp;
        }
    }

    /// <summary>Ethernet II with any number of 802.1Q / 802.1ad tags (bounded).</summary>
    public static PacketStatus ParseEthernet(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
    {
        if (frame.Length - offset < EthernetHeaderLength)
        {
            return PacketStatus.Truncated;
        }

        return ParseEtherType(frame, BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 12)..]), offset + EthernetHeaderLength, ref header);
    }

    private static PacketStatus ParseEtherType(ReadOnlySpan<byte> frame, ushort etherType, int offset, ref PacketHeader header)
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
            EtherTypeIPv4 => ParseIPv4(frame, offset, ref header),
            EtherTypeIPv6 => ParseIPv6(frame, offset, ref header),
            _ => PacketStatus.NotIp,
        };
    }

    private static PacketStatus ParseIpByVersion(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
    {
        if (frame.Length <= offset)
        {
            return PacketStatus.Truncated;
        }

        return (frame[offset] >> 4) switch
        {
            4 => ParseIPv4(frame, offset, ref header),
            6 => ParseIPv6(frame, offset, ref header),
            _ => PacketStatus.NotIp,
        };
    }

    /// <summary>IPv4 (RFC 791): header length from IHL, options skipped; only the first fragment has ports.</summary>
    public static PacketStatus ParseIPv4(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
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
        var moreFragments = (fragment & 0x2000) != 0;
        var fragmentOffset = fragment & 0x1FFF;
        header.IsFragment = moreFragments || fragmentOffset != 0;
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
        return ParseTransport(frame, offset + headerLength, Math.Min(ipEnd, frame.Length), ipEnd, ref header);
    }

    /// <summary>IPv6 (RFC 8200) with its extension headers; a non-first fragment has no transport header.</summary>
    public static PacketStatus ParseIPv6(ReadOnlySpan<byte> frame, int offset, ref PacketHeader header)
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
            switch (next)
            {
                case 0 or 43 or 60 or 135 or 139 or 140:
                    // Hop-by-hop, routing, destination options, mobility, HIP, shim6: (next, length in 8-octet units - 1).
                    if (frame.Length - position < 2)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    next = frame[position];
                    position += (frame[position + 1] + 1) * 8;
                    continue;
                case 44:
                    // Fragment header: 8 bytes; a non-zero offset means no transport header here.
                    if (frame.Length - position < 8)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    var fragment = BinaryPrimitives.ReadUInt16BigEndian(frame[(position + 2)..]);
                    header.IsFragment = true;
                    next = frame[position];
                    position += 8;
                    if ((fragment & 0xFFF8) != 0)
                    {
                        header.Protocol = next;
                        return PacketStatus.Ok;
                    }

                    continue;
                case 51:
                    // Authentication header: length in 4-octet units - 2.
                    if (frame.Length - position < 2)
                    {
                        header.Protocol = next;
                        return PacketStatus.Truncated;
                    }

                    next = frame[position];
                    position += (frame[position + 1] + 2) * 4;
                    continue;
                default:
                    break;
            }

            break;
        }

        header.Protocol = next;
        if (position > frame.Length)
        {
            return PacketStatus.Truncated;
        }

        return ParseTransport(frame, position, Math.Min(ipEnd, frame.Length), ipEnd, ref header);
    }

    /// <summary>TCP, UDP, ICMP and ICMPv6 headers; other protocols stop at IP.</summary>
    private static PacketStatus ParseTransport(ReadOnlySpan<byte> frame, int offset, int end, int announcedEnd, ref PacketHeader header)
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
                return PacketStatus.Ok;
            case ProtocolTcp:
                if (available < 14)
                {
                    if (available >= 4)
                    {
                        header.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                        header.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                    }

                    return PacketStatus.Truncated;
                }

                header.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                header.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
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
            default:
                return PacketStatus.Ok;
        }
    }
}
