using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.SFlow;

public sealed class SFlowDecoderTests
{
    private static readonly byte[] UdpFrame = Frames.Ethernet(0x0800, Frames.IPv4("203.0.113.5", "198.51.100.20", 17, Frames.Udp(123, 50000, new byte[440])));

    private static byte[] Sample(uint sequence, uint pool, uint drops, uint rate = 1000) =>
        new SFlowBuilder(sequence: sequence).FlowSample(sequence, 7, rate, pool, drops, 7, 9, SFlowBuilder.RawHeader(UdpFrame[..128], (uint)UdpFrame.Length + 4)).Build();

    [Fact]
    public void Decode_FlowSampleWithRawHeader_IsOnePacketAtTheSampleRate()
    {
        var harness = new DecoderHarness();

        var (status, records) = harness.Decode(Sample(1, 5000, 0));

        Assert.Equal(DecodeStatus.Ok, status);
        var flow = Assert.Single(records);
        Assert.Equal(ExportFormat.SFlow, flow.Format);
        Assert.Equal((1UL, 1000u), (flow.Packets, flow.SamplingRate));
        Assert.Equal(("203.0.113.5", "198.51.100.20"), (flow.SourceAddress.ToString(), flow.DestinationAddress.ToString()));
        Assert.Equal(((byte)17, (ushort)123, (ushort)50000), (flow.IpProtocol, flow.SourcePort, flow.DestinationPort));
        Assert.Equal((7u, 9u), (flow.InputInterface, flow.OutputInterface));
        Assert.Equal(FlowDirection.Ingress, flow.Direction);

        // frame_length counts the FCS; bytes are the IP packet's length, read from its header despite the 128-byte cut.
        Assert.Equal((uint)UdpFrame.Length + 4, flow.FrameLength);
        Assert.Equal(20UL + 8 + 440, flow.Bytes);
        Assert.False(flow.Attributes.HasFlag(FlowAttributes.Truncated));
    }

    [Fact]
    public void Decode_HeaderCutInsideTheTransportHeader_KeepsTheAddressesAndSaysItIsTruncated()
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder().FlowSample(1, 7, 100, 100, 0, 7, 9, SFlowBuilder.RawHeader(UdpFrame[..38], (uint)UdpFrame.Length + 4)).Build();

        var flow = Assert.Single(harness.Decode(datagram).Records);

        Assert.True(flow.Attributes.HasFlag(FlowAttributes.Truncated));
        Assert.Equal(("203.0.113.5", (byte)17, (ushort)0), (flow.SourceAddress.ToString(), flow.IpProtocol, flow.SourcePort));
        Assert.Equal(20UL + 8 + 440, flow.Bytes);
    }

    [Fact]
    public void Decode_AgentDroppingSamples_RateBecomesPoolGrowthPerSample()
    {
        var harness = new DecoderHarness();

        harness.Decode(Sample(100, 1_000_000, 0));

        // Ten samples later the pool grew by 40 000 packets and the agent reports 30 drops: each sample stands for 4 000.
        var loaded = Assert.Single(harness.Decode(Sample(110, 1_040_000, 30)).Records);
        var calm = Assert.Single(harness.Decode(Sample(111, 1_041_000, 30)).Records);

        Assert.Equal(4000u, loaded.SamplingRate);
        Assert.Equal(1000u, calm.SamplingRate);
        Assert.Equal(30, harness.State!.Statistics.SamplesDropped);
        Assert.Equal(9, harness.State.Statistics.SamplesLost);
    }

    [Theory]
    [InlineData(0x3FFFFFFFu, 0x3FFFFFFFu, FlowAttributes.None)]
    [InlineData(0x40000001u, 0u, FlowAttributes.Discarded)]
    [InlineData(0x80000007u, 0u, FlowAttributes.MultipleOutputs)]
    public void Decode_CompactOutputInterface_TopTwoBitsSayWhatItIs(uint word, uint expectedInterface, FlowAttributes expected)
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder().FlowSample(1, 7, 100, 100, 0, 7, word, SFlowBuilder.RawHeader(UdpFrame, (uint)UdpFrame.Length + 4)).Build();

        var flow = Assert.Single(harness.Decode(datagram).Records);

        Assert.Equal(expectedInterface, flow.OutputInterface);
        Assert.Equal(expected, flow.Attributes & (FlowAttributes.Discarded | FlowAttributes.MultipleOutputs));
    }

    [Fact]
    public void Decode_ExpandedSample_InterfacesAreFullWordsWithTheirFormatApart()
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder().ExpandedFlowSample(1, 1_285_816_721, 512, 100, 0, (0, 29001), (0, 1_285_816_721), SFlowBuilder.RawHeader(UdpFrame, (uint)UdpFrame.Length + 4)).Build();

        var flow = Assert.Single(harness.Decode(datagram).Records);

        Assert.Equal((29001u, 1_285_816_721u), (flow.InputInterface, flow.OutputInterface));
        Assert.Equal(FlowDirection.Egress, flow.Direction);
        Assert.Equal(512u, flow.SamplingRate);
    }

    [Theory]
    [InlineData(11u)]
    [InlineData(12u)]
    public void Decode_HeaderProtocolIpWithoutEthernet_IsParsedAsIp(uint protocol)
    {
        var harness = new DecoderHarness();
        var packet = protocol == 11
            ? Frames.IPv4("192.0.2.1", "198.51.100.1", 6, Frames.Tcp(1234, 80, 0x02))
            : Frames.IPv6("2001:db8::1", "2001:db8::2", 6, Frames.Tcp(1234, 80, 0x02));

        var flow = Assert.Single(harness.Decode(new SFlowBuilder().FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.RawHeader(packet, (uint)packet.Length, protocol, 0)).Build()).Records);

        Assert.Equal(protocol == 11 ? (byte)4 : (byte)6, flow.IpVersion);
        Assert.Equal(((ushort)80, (ushort)0x02), (flow.DestinationPort, flow.TcpFlags));
        Assert.Equal((ulong)packet.Length, flow.Bytes);
    }

    [Fact]
    public void Decode_NonIpFrame_CountsItsFrameLengthWithoutTheFcs()
    {
        var harness = new DecoderHarness();
        var arp = Frames.Ethernet(0x0806, new byte[28]);

        var flow = Assert.Single(harness.Decode(new SFlowBuilder().FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.RawHeader(arp, 68)).Build()).Records);

        Assert.Equal((byte)0, flow.IpVersion);
        Assert.Equal(64UL, flow.Bytes);
    }

    [Fact]
    public void Decode_SampledIPv4AndExtendedSwitch_DescribeThePacketWithoutAHeader()
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder().FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.SampledIPv4("192.0.2.9", "198.51.100.9", 6, 5555, 443, 1400, 0x10), SFlowBuilder.ExtendedSwitch(42)).Build();

        var flow = Assert.Single(harness.Decode(datagram).Records);

        Assert.Equal(("192.0.2.9", (ushort)443, (ushort)0x10), (flow.SourceAddress.ToString(), flow.DestinationPort, flow.TcpFlags));
        Assert.Equal((1400UL, (ushort)42), (flow.Bytes, flow.Vlan));
    }

    [Fact]
    public void Decode_UnknownSamplesAndRecords_AreSkippedByTheirLength()
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder()
            .Sample((4300u << 12) | 7, new byte[36])
            .Sample(5, new byte[20])
            .FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.Record((9u << 12) | 1, new byte[13]), SFlowBuilder.Record(2000, new byte[8]), SFlowBuilder.RawHeader(UdpFrame, 500))
            .Build();

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal("203.0.113.5", Assert.Single(records).SourceAddress.ToString());
    }

    [Fact]
    public void Decode_CounterSample_BecomesInterfaceCountersWithUnknownsMarked()
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder(subAgent: 3)
            .CounterSample(5, 12, SFlowBuilder.GenericCounters(12, 10_000_000_000, 123_456_789, 1000, 987_654, uint.MaxValue, inDiscards: 7, inErrors: uint.MaxValue, inMulticast: 20), SFlowBuilder.EthernetCounters(3))
            .Build();

        var sink = new RecordingSink();
        harness.Decoder.Decode(datagram, DecoderHarness.Exporter, harness.Now, ref sink);

        var counters = Assert.Single(sink.Counters);
        Assert.Equal((CounterSource.SFlow, 3u, 12u), (counters.Source, counters.SubAgent, counters.IfIndex));
        Assert.Equal(10_000_000_000UL, counters.IfSpeed);
        Assert.Equal((123_456_789UL, 987_654UL), (counters.InOctets, counters.OutOctets));
        Assert.Equal((1020UL, 7UL, 3UL), (counters.InPackets, counters.InDiscards, counters.FcsErrors));
        Assert.False(counters.Has(KnownCounters.OutUnicast));
        Assert.False(counters.Has(KnownCounters.InErrors));
        Assert.True(counters.Has(KnownCounters.InOctets | KnownCounters.InDiscards | KnownCounters.FcsErrors));
        Assert.Equal(InterfaceDirection.FullDuplex, counters.Direction);
        Assert.True(counters.IsUp);
    }

    [Fact]
    public void Decode_Ipv6Agent_HeaderIsReadPastTheLongerAddress()
    {
        var harness = new DecoderHarness();

        var (status, records) = harness.Decode(new SFlowBuilder(agent: "2001:db8::77").FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.RawHeader(UdpFrame, 500)).Build());

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Single(records);
    }

    [Fact]
    public void Decode_DatagramSequenceGaps_CountLostDatagramsPerSubAgent()
    {
        var harness = new DecoderHarness();

        foreach (var (subAgent, sequence) in new[] { (0u, 1u), (1u, 50u), (0u, 2u), (0u, 6u), (1u, 51u) })
        {
            harness.Decode(new SFlowBuilder(subAgent: subAgent, sequence: sequence).Build());
        }

        Assert.Equal(3, harness.State!.Statistics.SequenceLost);
    }

    [Theory]
    [InlineData(27)]
    [InlineData(40)]
    public void Decode_SampleLongerThanTheDatagram_IsBadLengthWithoutRecords(int cut)
    {
        var harness = new DecoderHarness();
        var datagram = new SFlowBuilder().FlowSample(1, 3, 10, 10, 0, 3, 4, SFlowBuilder.RawHeader(UdpFrame, 500)).Build();

        var (status, records) = harness.Decode(datagram[..cut]);

        Assert.Equal(cut < 28 ? DecodeStatus.Truncated : DecodeStatus.BadLength, status);
        Assert.Empty(records);
    }
}
