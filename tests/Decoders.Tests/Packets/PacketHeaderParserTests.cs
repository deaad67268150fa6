using FlowCollector.Decoders.Packets;
using FlowCollector.Decoders.Tests.Support;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Decoders.Tests.Packets;

public sealed class PacketHeaderParserTests
{
    private static readonly byte[] InnerUdp = Frames.Ethernet(0x0800, Frames.IPv4("203.0.113.7", "198.51.100.9", 17, Frames.Udp(123, 40000, new byte[48])));

    private static PacketHeader Mirrored(byte[] frame, out PacketStatus status)
    {
        status = PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header, PacketParseMode.Mirrored);
        return header;
    }

    private static byte[] ToCollector(byte protocol, byte[] payload) =>
        Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.50", "192.0.2.1", protocol, payload));

    private static void AssertInnerUdp(PacketHeader header)
    {
        Assert.Equal(("203.0.113.7", "198.51.100.9"), (header.SourceAddress.ToString(), header.DestinationAddress.ToString()));
        Assert.Equal((17, 123, 40000), (header.Protocol, header.SourcePort, header.DestinationPort));
        Assert.Equal("192.0.2.50", header.TunnelSource.ToString());
    }

    [Fact]
    public void Parse_TcpOverIPv4_ReadsAddressesPortsAndFlags()
    {
        var frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.1", "198.51.100.1", 6, Frames.Tcp(40000, 443, 0x12)));

        var status = PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal(PacketStatus.Ok, status);
        Assert.Equal((4, 6), (header.IpVersion, header.Protocol));
        Assert.Equal(((ushort)40000, (ushort)443, (byte)0x12), (header.SourcePort, header.DestinationPort, header.TcpFlags));
        Assert.Equal(40, header.IpLength);
        Assert.False(header.IsTruncated);
    }

    [Fact]
    public void Parse_IPv4WithOptions_FindsTheTransportAfterThem()
    {
        var frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.1", "198.51.100.1", 17, Frames.Udp(53, 5353, [1, 2, 3]), options: [0x94, 0x04, 0, 0, 1, 1, 1, 0]));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal(((ushort)53, (ushort)5353), (header.SourcePort, header.DestinationPort));
        Assert.Equal(3, header.PayloadLength);
    }

    [Theory]
    [InlineData(0x2000, true, true)]
    [InlineData(0x0010, true, false)]
    [InlineData(0x4000, false, true)]
    public void Parse_IPv4Fragment_OnlyTheFirstCarriesPorts(int fragmentField, bool isFragment, bool hasPorts)
    {
        var frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.1", "198.51.100.1", 17, Frames.Udp(53, 9999, new byte[32]), fragment: (ushort)fragmentField));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal(isFragment, header.IsFragment);
        Assert.Equal(hasPorts, header.HasTransport);
        Assert.Equal(hasPorts ? (ushort)53 : (ushort)0, header.SourcePort);
    }

    [Fact]
    public void Parse_IPv6ExtensionHeaders_AreWalkedToTheTransport()
    {
        var frame = Frames.Ethernet(0x86DD, Frames.IPv6("2001:db8::1", "2001:db8::2", 0, Frames.Ipv6Options(60, Frames.Ipv6Options(6, Frames.Tcp(1111, 22, 0x02)))));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal((6, 6), (header.IpVersion, header.Protocol));
        Assert.Equal(((ushort)1111, (ushort)22, (byte)0x02), (header.SourcePort, header.DestinationPort, header.TcpFlags));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(185, false)]
    public void Parse_IPv6FragmentHeader_OnlyTheFirstFragmentCarriesPorts(int offset, bool hasPorts)
    {
        var frame = Frames.Ethernet(0x86DD, Frames.IPv6("2001:db8::1", "2001:db8::2", 44, Frames.Ipv6Fragment(17, (ushort)offset, more: true, Frames.Udp(500, 4500, new byte[16]))));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.True(header.IsFragment);
        Assert.Equal(17, header.Protocol);
        Assert.Equal(hasPorts, header.HasTransport);
    }

    [Fact]
    public void Parse_QinQ_ReadsThroughBothTagsAndKeepsTheInnerVlan()
    {
        var frame = Frames.TaggedEthernet([100, 200], 0x0800, Frames.IPv4("192.0.2.1", "198.51.100.1", 1, Frames.Icmp(8, 0)), outerTagType: 0x88A8);

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal((ushort)200, header.Vlan);
        Assert.Equal((1, 8), (header.Protocol, header.IcmpType));
    }

    [Fact]
    public void Parse_MplsLabelStack_IsPoppedToTheIpPacket()
    {
        var labels = Wire.Concat([0x00, 0x01, 0x00, 0x40], [0x00, 0x02, 0x01, 0x40]);
        var frame = Frames.Ethernet(0x8847, Wire.Concat(labels, Frames.IPv4("192.0.2.1", "198.51.100.1", 6, Frames.Tcp(1, 2, 0x10))));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal((byte)2, header.MplsLabels);
        Assert.Equal(("192.0.2.1", (byte)6), (header.SourceAddress.ToString(), header.Protocol));
    }

    [Fact]
    public void Parse_GreInObservedTraffic_IsCountedAsGreNotOpened()
    {
        var frame = ToCollector(47, Frames.Gre(0x6558, InnerUdp));

        PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal(Encapsulation.None, header.Encapsulation);
        Assert.Equal((byte)47, header.Protocol);
        Assert.Equal("192.0.2.50", header.SourceAddress.ToString());
    }

    [Theory]
    [InlineData(false, null, null)]
    [InlineData(true, null, null)]
    [InlineData(false, 77u, null)]
    [InlineData(true, 77u, 9u)]
    public void Parse_MirroredGreWithAnyFlags_FindsTheBridgedFrame(bool checksum, uint? key, uint? sequence)
    {
        var header = Mirrored(ToCollector(47, Frames.Gre(0x6558, InnerUdp, checksum, key, sequence)), out var status);

        Assert.Equal(PacketStatus.Ok, status);
        Assert.Equal(Encapsulation.Gre, header.Encapsulation);
        AssertInnerUdp(header);
    }

    [Fact]
    public void Parse_ErspanTypeI_HasNoHeaderAfterGre()
    {
        var header = Mirrored(ToCollector(47, Frames.Gre(0x88BE, InnerUdp)), out _);

        Assert.Equal(Encapsulation.ErspanTypeI, header.Encapsulation);
        AssertInnerUdp(header);
    }

    [Fact]
    public void Parse_ErspanTypeII_ReadsSessionAndPortIndex()
    {
        var header = Mirrored(ToCollector(47, Frames.Gre(0x88BE, Frames.ErspanTypeII(666, 32760, InnerUdp), sequence: 1)), out _);

        Assert.Equal(Encapsulation.ErspanTypeII, header.Encapsulation);
        Assert.Equal((666u, 32760u), (header.TunnelSession, header.TunnelPort));
        AssertInnerUdp(header);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_ErspanTypeIII_SkipsTheOptionalPlatformSubheader(bool subheader)
    {
        var header = Mirrored(ToCollector(47, Frames.Gre(0x22EB, Frames.ErspanTypeIII(5, 0, subheader, InnerUdp), sequence: 1)), out _);

        Assert.Equal((Encapsulation.ErspanTypeIII, 5u), (header.Encapsulation, header.TunnelSession));
        AssertInnerUdp(header);
    }

    [Fact]
    public void Parse_Tzsp_SkipsItsTagsToTheEthernetFrame()
    {
        // A padding tag and a 4-byte tag before END, as MikroTik's sniffer streams them.
        var header = Mirrored(ToCollector(17, Frames.Udp(37008, 37008, Frames.Tzsp([0, 10, 4, 1, 2, 3, 4], InnerUdp))), out var status);

        Assert.Equal(PacketStatus.Ok, status);
        Assert.Equal(Encapsulation.Tzsp, header.Encapsulation);
        AssertInnerUdp(header);
    }

    [Fact]
    public void Parse_Vxlan_ReadsTheNetworkIdentifier()
    {
        var header = Mirrored(ToCollector(17, Frames.Udp(45000, 4789, Frames.Vxlan(100, InnerUdp))), out _);

        Assert.Equal((Encapsulation.Vxlan, 100u), (header.Encapsulation, header.TunnelSession));
        AssertInnerUdp(header);
    }

    [Fact]
    public void Parse_TunnelsNestedTooDeep_StopAtTheLimit()
    {
        var frame = InnerUdp;
        for (var i = 0; i < 6; i++)
        {
            frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.50", "192.0.2.1", 47, Frames.Gre(0x6558, frame)));
        }

        var header = Mirrored(frame, out var status);

        Assert.Equal(PacketStatus.Ok, status);
        Assert.Equal((byte)47, header.Protocol);
    }

    [Fact]
    public void Parse_TruncatedTcpHeader_KeepsThePortsItHasAndSaysSo()
    {
        var frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.1", "198.51.100.1", 6, Frames.Tcp(40000, 443, 0x02)))[..(14 + 20 + 6)];

        var status = PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header);

        Assert.Equal(PacketStatus.Truncated, status);
        Assert.True(header.IsTruncated);
        Assert.Equal(((ushort)40000, (ushort)443), (header.SourcePort, header.DestinationPort));
        Assert.Equal("198.51.100.1", header.DestinationAddress.ToString());
    }

    public static TheoryData<string, string, string, string, int, int, int, int> TsharkDecodings() => new()
    {
        // fixture, mode, source, destination, protocol, source port, destination port, VLAN: as tshark decodes the first frame.
        { "akvorado_decap_mpls-ipv4.pcap", "observed", "10.31.0.1", "10.34.0.1", 6, 11001, 23, 0 },
        { "akvorado_decap_mpls-explicit-null-ipv4.pcap", "observed", "10.31.0.1", "10.34.0.1", 6, 11001, 23, 0 },
        { "akvorado_decap_mpls-ipv6.pcap", "observed", "2001:db8::1", "2001:db8::2", 6, 11001, 80, 0 },
        { "tcpdump_erspan-type-ii-1.pcap", "mirrored", "10.48.6.1", "224.0.0.13", 103, 0, 0, 0 },
        { "tcpdump_erspan-type-iii-ft-0.pcap", "mirrored", "10.29.11.1", "10.29.20.21", 1, 0, 0, 20 },
        { "tcpdump_erspan-type-i-1.pcap", "mirrored", "10.52.128.233", "10.52.128.234", 1, 0, 0, 101 },
        { "akvorado_decap_gre-v4-key.pcap", "mirrored", "192.168.1.101", "192.168.2.102", 1, 0, 0, 0 },
        { "tcpdump_vxlan.pcap", "mirrored", "192.168.203.3", "192.168.203.5", 1, 0, 0, 0 },
        { "tcpdump_geneve.pcap", "mirrored", "30.0.0.1", "30.0.0.2", 1, 0, 0, 0 },
        { "akvorado_decap_vlan-ipv6.pcap", "observed", "2402:f000:1:8e01::5555", "2607:fcd0:100:2300::b108:2a6b", 4, 0, 0, 100 },
    };

    [Theory]
    [MemberData(nameof(TsharkDecodings))]
    public void Parse_FirstFrameOfAFixture_MatchesTshark(string file, string mode, string source, string destination, int protocol, int sourcePort, int destinationPort, int vlan)
    {
        SharedFixtures.RequirePresent();
        using var device = new CaptureFileReaderDevice(Path.Combine(SharedFixtures.Root, "pcaps", "span", file));
        device.Open();
        Assert.Equal(GetPacketStatus.PacketRead, device.GetNextPacket(out var capture));

        PacketHeaderParser.Parse(capture.Data, (LinkType)(ushort)device.LinkType, out var header, mode == "mirrored" ? PacketParseMode.Mirrored : PacketParseMode.Observed);

        Assert.Equal((source, destination), (header.SourceAddress.ToString(), header.DestinationAddress.ToString()));
        Assert.Equal((protocol, sourcePort, destinationPort, vlan), ((int)header.Protocol, (int)header.SourcePort, (int)header.DestinationPort, (int)header.Vlan));
    }

    [Fact]
    public void Parse_EveryPrefixOfEveryFixtureFrame_StaysInsideTheSpan()
    {
        SharedFixtures.RequirePresent();
        var prefixes = 0L;
        foreach (var entry in SharedFixtures.Manifest.Where(e => e.Path.StartsWith("pcaps/span/", StringComparison.Ordinal) || e.Path.StartsWith("pcaps/sflow/", StringComparison.Ordinal)))
        {
            using var device = new CaptureFileReaderDevice(SharedFixtures.FullPath(entry));
            device.Open();
            var linkType = (LinkType)(ushort)device.LinkType;
            while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
            {
                var frame = capture.Data.ToArray();
                for (var length = 0; length <= frame.Length; length++)
                {
                    foreach (var mode in new[] { PacketParseMode.Observed, PacketParseMode.Mirrored })
                    {
                        var status = PacketHeaderParser.Parse(frame.AsSpan(0, length), linkType, out var header, mode);
                        Assert.True(Enum.IsDefined(status));
                        Assert.InRange(header.PayloadOffset + header.PayloadLength, 0, length);
                        Assert.InRange(header.InnerOffset, 0, length);
                        prefixes++;
                    }
                }
            }
        }

        Assert.True(prefixes > 10_000);
    }
}
