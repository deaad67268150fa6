using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.NetFlow;

public sealed class NetFlowV5DecoderTests
{
    [Fact]
    public void Decode_ValidDatagram_DeliversEveryFieldOfEachRecord()
    {
        var harness = new DecoderHarness();
        var datagram = NetFlowV5Builder.Datagram(
            [NetFlowV5Builder.Record("192.0.2.1", "198.51.100.7", 40000, 53, 17, 0, packets: 3, bytes: 210, input: 5, output: 6)],
            sysUptime: 100_000,
            unixSeconds: 1_700_000_000,
            engineType: 1,
            engineId: 2);

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        var flow = Assert.Single(records);
        Assert.Equal(ExportFormat.NetFlowV5, flow.Format);
        Assert.Equal(DecoderHarness.Exporter, flow.Exporter);
        Assert.Equal(0x0102u, flow.ObservationDomain);
        Assert.Equal("192.0.2.1", flow.SourceAddress.ToString());
        Assert.Equal("198.51.100.7", flow.DestinationAddress.ToString());
        Assert.Equal((ushort)40000, flow.SourcePort);
        Assert.Equal((ushort)53, flow.DestinationPort);
        Assert.Equal((byte)17, flow.IpProtocol);
        Assert.Equal(3UL, flow.Packets);
        Assert.Equal(210UL, flow.Bytes);
        Assert.Equal(5u, flow.InputInterface);
        Assert.Equal(6u, flow.OutputInterface);
        Assert.Equal(1u, flow.SamplingRate);

        // first = 90 000 and last = 99 000 ms of uptime, exported at uptime 100 000.
        Assert.Equal((1_700_000_000L * 1000) - 10_000, flow.StartMilliseconds);
        Assert.Equal((1_700_000_000L * 1000) - 1_000, flow.EndMilliseconds);
    }

    [Theory]
    [InlineData(0x4064, 100u)]
    [InlineData(0x0000, 1u)]
    [InlineData(0x8000, 1u)]
    [InlineData(0x03E8, 1000u)]
    [InlineData(0xBFFF, 16383u)]
    public void Decode_SamplingField_UsesOnlyTheFourteenIntervalBits(int field, uint expectedRate)
    {
        var harness = new DecoderHarness();

        var (_, records) = harness.Decode(NetFlowV5Builder.Datagram([NetFlowV5Builder.Record()], sampling: (ushort)field));

        Assert.Equal(expectedRate, Assert.Single(records).SamplingRate);
    }

    [Theory]
    [InlineData(31, 31, DecodeStatus.BadCount)]
    [InlineData(2, 1, DecodeStatus.Truncated)]
    [InlineData(1, 2, DecodeStatus.BadLength)]
    public void Decode_CountOrLengthThatLies_IsRejectedWithoutRecords(int claimed, int present, DecodeStatus expected)
    {
        var harness = new DecoderHarness();
        var records = Enumerable.Range(0, present).Select(_ => NetFlowV5Builder.Record()).ToList();

        var (status, decoded) = harness.Decode(NetFlowV5Builder.Datagram(records, count: claimed));

        Assert.Equal(expected, status);
        Assert.Empty(decoded);
    }

    [Fact]
    public void Decode_ThirtyRecords_AllDelivered()
    {
        var harness = new DecoderHarness();

        var (status, records) = harness.Decode(NetFlowV5Builder.Datagram([.. Enumerable.Range(0, 30).Select(i => NetFlowV5Builder.Record(packets: (uint)i))]));

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (ulong)i), records.Select(r => r.Packets));
    }

    [Fact]
    public void Decode_UptimeWrappedSinceFlowStart_TimesStayBeforeExport()
    {
        var harness = new DecoderHarness();

        // The flow started at uptime 2^32 - 5 000 ms; the exporter's uptime wrapped to 3 000 ms since.
        var datagram = NetFlowV5Builder.Datagram([NetFlowV5Builder.Record(first: uint.MaxValue - 4_999, last: 2_000)], sysUptime: 3_000);

        var flow = Assert.Single(harness.Decode(datagram).Records);

        var export = 1_700_000_000L * 1000;
        Assert.Equal(export - 8_000, flow.StartMilliseconds);
        Assert.Equal(export - 1_000, flow.EndMilliseconds);
    }

    [Fact]
    public void Decode_IcmpRecord_TakesTypeAndCodeFromTheDestinationPort()
    {
        var harness = new DecoderHarness();

        var flow = Assert.Single(harness.Decode(NetFlowV5Builder.Datagram([NetFlowV5Builder.Record(protocol: 1, sourcePort: 0, destinationPort: 0x0303)])).Records);

        Assert.Equal((byte)3, flow.IcmpType);
        Assert.Equal((byte)3, flow.IcmpCode);
        Assert.True(flow.Attributes.HasFlag(FlowAttributes.HasIcmp));
    }

    [Fact]
    public void Decode_SequenceSkipsFlows_CountsThemLost()
    {
        var harness = new DecoderHarness();
        var two = new[] { NetFlowV5Builder.Record(), NetFlowV5Builder.Record() };

        harness.Decode(NetFlowV5Builder.Datagram(two, sequence: 100));
        harness.Decode(NetFlowV5Builder.Datagram(two, sequence: 102));
        harness.Decode(NetFlowV5Builder.Datagram(two, sequence: 110));

        Assert.Equal(6, harness.State!.Statistics.SequenceLost);
    }

    [Fact]
    public void Decode_ExporterRestarts_SequenceResetIsNotLoss()
    {
        var harness = new DecoderHarness();
        var one = new[] { NetFlowV5Builder.Record() };

        harness.Decode(NetFlowV5Builder.Datagram(one, sysUptime: 500_000, sequence: 90_000));
        harness.Decode(NetFlowV5Builder.Datagram(one, sysUptime: 1_000, sequence: 0));
        harness.Decode(NetFlowV5Builder.Datagram(one, sysUptime: 2_000, sequence: 1));

        var statistics = harness.State!.Statistics;
        Assert.Equal(0, statistics.SequenceLost);
        Assert.Equal(1, statistics.SequenceResets);
    }
}
