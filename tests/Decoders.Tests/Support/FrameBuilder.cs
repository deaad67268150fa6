using System.Buffers.Binary;

namespace FlowCollector.Decoders.Tests.Support;

/// <summary>Builds packet bytes layer by layer (outermost call last), like scapy's '/' operator, for parser tests.</summary>
internal static class Frames
{
    public static byte[] Ethernet(ushort etherType, byte[] payload) =>
        Wire.Concat([0x02, 0, 0, 0, 0, 2], [0x02, 0, 0, 0, 0, 1], Wire.U16(etherType), payload);

    public static byte[] Vlan(ushort vlan, ushort innerType, byte[] payload, ushort tagType = 0x8100) =>
        Wire.Concat(Wire.U16(tagType), Wire.U16(vlan), Wire.U16(innerType), payload);

    /// <summary>Ethernet with 802.1Q/802.1ad tags: outermost tag first.</summary>
    public static byte[] TaggedEthernet(ushort[] vlans, ushort etherType, byte[] payload, ushort outerTagType = 0x8100)
    {
        var body = payload;
        var type = etherType;
        for (var i = vlans.Length - 1; i >= 0; i--)
        {
            body = Wire.Concat(Wire.U16(vlans[i]), Wire.U16(type), body);
            type = i == 0 ? outerTagType : (ushort)0x8100;
        }

        return Wire.Concat([0x02, 0, 0, 0, 0, 2], [0x02, 0, 0, 0, 0, 1], Wire.U16(type), body);
    }

    public static byte[] IPv4(string source, string destination, byte protocol, byte[] payload, byte[]? options = null, ushort fragment = 0, int? totalLength = null)
    {
        options ??= [];
        var headerLength = 20 + options.Length;
        var header = new byte[headerLength];
        header[0] = (byte)(0x40 | (headerLength / 4));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)(totalLength ?? (headerLength + payload.Length)));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), fragment);
        header[8] = 64;
        header[9] = protocol;
        Wire.Ip(source).CopyTo(header, 12);
        Wire.Ip(destination).CopyTo(header, 16);
        options.CopyTo(header, 20);
        return Wire.Concat(header, payload);
    }

    public static byte[] IPv6(string source, string destination, byte nextHeader, byte[] payload) =>
        Wire.Concat([0x60, 0, 0, 0], Wire.U16(payload.Length), [nextHeader, 64], Wire.Ip(source), Wire.Ip(destination), payload);

    /// <summary>An IPv6 extension header of the hop-by-hop / destination-options shape, 8 bytes.</summary>
    public static byte[] Ipv6Options(byte nextHeader, byte[] payload) => Wire.Concat([nextHeader, 0, 1, 4, 0, 0, 0, 0], payload);

    public static byte[] Ipv6Fragment(byte nextHeader, ushort offsetInEightBytes, bool more, byte[] payload) =>
        Wire.Concat([nextHeader, 0], Wire.U16((offsetInEightBytes << 3) | (more ? 1 : 0)), Wire.U32(0x1234), payload);

    public static byte[] Udp(int sourcePort, int destinationPort, byte[] payload) =>
        Wire.Concat(Wire.U16(sourcePort), Wire.U16(destinationPort), Wire.U16(8 + payload.Length), Wire.U16(0), payload);

    public static byte[] Tcp(int sourcePort, int destinationPort, byte flags, byte[]? payload = null) =>
        Wire.Concat(Wire.U16(sourcePort), Wire.U16(destinationPort), Wire.U32(1), Wire.U32(0), [0x50, flags], Wire.U16(65535), Wire.U16(0), Wire.U16(0), payload ?? []);

    public static byte[] Icmp(byte type, byte code) => [type, code, 0, 0, 0, 1, 0, 1];

    /// <summary>GRE with optional checksum (C), key (K) and sequence (S) words.</summary>
    public static byte[] Gre(ushort protocol, byte[] payload, bool checksum = false, uint? key = null, uint? sequence = null)
    {
        var flags = (checksum ? 0x8000 : 0) | (key.HasValue ? 0x2000 : 0) | (sequence.HasValue ? 0x1000 : 0);
        return Wire.Concat(
            Wire.U16(flags),
            Wire.U16(protocol),
            checksum ? Wire.U32(0) : [],
            key.HasValue ? Wire.U32(key.Value) : [],
            sequence.HasValue ? Wire.U32(sequence.Value) : [],
            payload);
    }

    public static byte[] ErspanTypeII(uint session, uint index, byte[] frame) =>
        Wire.Concat(Wire.U32((1u << 28) | session), Wire.U32(index), frame);

    public static byte[] ErspanTypeIII(uint session, uint frameType, bool platformSubheader, byte[] frame) =>
        Wire.Concat(
            Wire.U32((2u << 28) | session),
            Wire.U32(123456),
            Wire.U32((frameType << 10) | (platformSubheader ? 1u : 0u)),
            platformSubheader ? new byte[8] : [],
            frame);

    /// <summary>TZSP: version 1, type 0 (received), Ethernet, the given tags, then END.</summary>
    public static byte[] Tzsp(byte[] tags, byte[] frame) => Wire.Concat([1, 0], Wire.U16(1), tags, [1], frame);

    public static byte[] Vxlan(uint network, byte[] frame) => Wire.Concat([0x08, 0, 0, 0], [(byte)(network >> 16), (byte)(network >> 8), (byte)network, 0], frame);
}
