using FlowCollector.Decoders.Packets;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Flows;

/// <summary>The hot path allocates nothing once templates are known (the benchmarks measure its speed).</summary>
public sealed class AllocationTests
{
    private static readonly Field[] RouterTemplate =
    [
        new(8, 4), new(12, 4), new(7, 2), new(11, 2), new(4, 1), new(6, 1), new(10, 4), new(14, 4), new(2, 4), new(1, 4), new(22, 4), new(21, 4), new(48, 1),
    ];

    private static byte[] RouterRecord(int i) => Wire.Concat(
        Wire.U32(0xC0000200u + (uint)i), Wire.Ip("198.51.100.9"), Wire.U16(40000 + i), Wire.U16(443), Wire.U8(6), Wire.U8(0x18), Wire.U32(1), Wire.U32(2), Wire.U32(10), Wire.U32(15000), Wire.U32(95_000), Wire.U32(99_000), Wire.U8(1));

    public static TheoryData<string> Formats() => ["netflow5", "netflow9", "ipfix", "sflow"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Decode_SteadyState_AllocatesNothing(string format)
    {
        var harness = new DecoderHarness();
        var records = Enumerable.Range(0, 30).Select(RouterRecord).ToArray();
        byte[] data;
        switch (format)
        {
            case "netflow5":
                data = NetFlowV5Builder.Datagram([.. Enumerable.Range(0, 30).Select(_ => NetFlowV5Builder.Record())]);
                break;
            case "netflow9":
                harness.Decode(new NetFlowV9Builder().OptionsTemplate(257, [new Field(1, 4)], [new Field(48, 1), new Field(34, 4)]).Data(257, Wire.Concat(Wire.U32(0), Wire.U8(1), Wire.U32(100))).Template(256, RouterTemplate).Build());
                data = new NetFlowV9Builder(sequence: 1).Data(256, records).Build();
                break;
            case "sflow":
                var frame = Frames.Ethernet(0x0800, Frames.IPv4("203.0.113.5", "198.51.100.20", 6, Frames.Tcp(443, 50000, 0x18, new byte[100])));
                var builder = new SFlowBuilder();
                for (var i = 0; i < 30; i++)
                {
                    builder.FlowSample((uint)i, 7, 1000, (uint)(i * 1000), 0, 7, 9, SFlowBuilder.RawHeader(frame, 158), SFlowBuilder.ExtendedSwitch(10));
                }

                data = builder.CounterSample(1, 7, SFlowBuilder.GenericCounters(7, 1_000_000_000, 1, 1, 1, 1)).Build();
                break;
            default:
                harness.Decode(new IpfixBuilder().Template(256, RouterTemplate).Build());
                data = new IpfixBuilder().Data(256, records).Build();
                break;
        }

        var sink = new CountingSink();

        // Warm up past tiered compilation, whose first calls may allocate.
        for (var i = 0; i < 1_000; i++)
        {
            harness.Decoder.Decode(data, DecoderHarness.Exporter, harness.Now, ref sink);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            harness.Decoder.Decode(data, DecoderHarness.Exporter, harness.Now, ref sink);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(30 * 11_000, sink.Records);
    }

    [Fact]
    public void DecodeMirrored_SteadyState_AllocatesNothing()
    {
        var inner = Frames.Ethernet(0x86DD, Frames.IPv6("2001:db8::1", "2001:db8::2", 6, Frames.Tcp(1234, 443, 0x10, new byte[64])));
        var frame = Frames.Ethernet(0x0800, Frames.IPv4("192.0.2.200", "192.0.2.1", 47, Frames.Gre(0x22EB, Frames.ErspanTypeIII(3, 0, true, inner), sequence: 1)));
        var bytes = 0UL;
        for (var i = 0; i < 1_000; i++)
        {
            PacketFlows.TryDecodeMirrored(frame, LinkType.Ethernet, frame.Length, i, out var warm);
            bytes += warm.Bytes;
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            PacketFlows.TryDecodeMirrored(frame, LinkType.Ethernet, frame.Length, i, out var flow);
            bytes += flow.Bytes;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11_000UL * (40 + 20 + 64), bytes);
    }
}
