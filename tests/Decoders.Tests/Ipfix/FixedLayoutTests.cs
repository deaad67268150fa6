using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Ipfix;

/// <summary>
/// A template whose fields all have fixed lengths is read through its compiled layout; one with a variable-length
/// field goes through the general reader. The same records under both must give the same flows, field for field.
/// </summary>
public sealed class FixedLayoutTests
{
    /// <summary>A router's IPv4 template: every common field, the ones the layout leaves to the general reader, and skipped ones.</summary>
    private static readonly Field[] RouterIPv4 =
    [
        new(8, 4), new(12, 4), new(15, 4), new(7, 2), new(11, 2), new(4, 1), new(5, 1), new(6, 1), new(10, 4), new(14, 4),
        new(2, 4), new(1, 4), new(22, 4), new(21, 4), new(16, 2), new(17, 2), new(61, 1), new(48, 1), new(32, 2), new(58, 2),
    ];

    /// <summary>IPv6 with reduced-size counters (RFC 7011 §6.2), 2-byte interfaces and flags, millisecond times, fragments.</summary>
    private static readonly Field[] ReducedIPv6 =
    [
        new(27, 16), new(28, 16), new(7, 2), new(11, 2), new(4, 1), new(6, 2), new(10, 2), new(14, 2), new(2, 3), new(1, 5),
        new(152, 8), new(153, 8), new(197, 1), new(88, 2), new(252, 4), new(253, 4), new(302, 4), new(305, 4), new(306, 4),
    ];

    /// <summary>Fields given twice: the later one is what the record means, whichever reader reads it.</summary>
    private static readonly Field[] Repeated =
    [
        new(8, 4), new(12, 4), new(1, 4), new(2, 4), new(10, 2), new(1, 8), new(7, 2), new(10, 4), new(11, 2), new(4, 1), new(61, 1), new(61, 1),
    ];

    public static TheoryData<string> Templates => ["router-ipv4", "reduced-ipv6", "repeated"];

    [Theory]
    [MemberData(nameof(Templates))]
    public void FixedLayoutAndGeneralReader_SameRecords_SameFlows(string name)
    {
        var fields = name switch
        {
            "router-ipv4" => RouterIPv4,
            "reduced-ipv6" => ReducedIPv6,
            _ => Repeated,
        };
        var random = new Random(name.Length);
        var records = Enumerable.Range(0, 40).Select(_ => Record(fields, random)).ToArray();
        var harness = new DecoderHarness();

        // Template 300 is fixed; 301 is the same with an interface name (82) of variable length at the end.
        harness.Decode(new IpfixBuilder().Template(300, fields).Template(301, [.. fields, new Field(82, Field.Variable)]).Build());
        var (fixedStatus, viaLayout) = harness.Decode(new IpfixBuilder(sequence: 0).Data(300, records).Build());
        var (generalStatus, viaGeneral) = harness.Decode(new IpfixBuilder(sequence: 40).Data(301, [.. records.Select(r => Wire.Concat(r, Wire.VariableLength([0x65, 0x74, 0x30])))]).Build());

        Assert.Equal((DecodeStatus.Ok, DecodeStatus.Ok), (fixedStatus, generalStatus));
        Assert.Equal(40, viaLayout.Count);
        Assert.Equal(viaGeneral, viaLayout);
    }

    [Fact]
    public void FixedLayout_RepeatedFields_TheLaterOneCounts()
    {
        var harness = new DecoderHarness();
        harness.Decode(new IpfixBuilder().Template(300, Repeated).Build());

        var record = Wire.Concat(
            Wire.Ip("192.0.2.1"), Wire.Ip("198.51.100.2"), Wire.U32(111), Wire.U32(3), Wire.U16(7), Wire.U64(4_000), Wire.U16(53),
            Wire.U32(9), Wire.U16(40_000), Wire.U8(17), Wire.U8(0), Wire.U8(1));
        var flow = Assert.Single(harness.Decode(new IpfixBuilder().Data(300, record).Build()).Records);

        Assert.Equal(4_000UL, flow.Bytes);
        Assert.Equal(9u, flow.InputInterface);
        Assert.Equal(FlowDirection.Egress, flow.Direction);
    }

    /// <summary>A record for the template: addresses from the documentation ranges, other fields random at their widths.</summary>
    private static byte[] Record(Field[] fields, Random random) => Wire.Concat([.. fields.Select(field => field.Type switch
    {
        8 or 12 or 15 => Wire.Ip($"{(random.Next(2) == 0 ? "192.0.2" : "203.0.113")}.{random.Next(1, 255)}"),
        27 or 28 => Wire.Ip($"2001:db8::{random.Next(1, 0xffff):x}"),
        4 => Wire.U8(random.Next(3) switch { 0 => 6, 1 => 17, _ => 1 }),
        61 => Wire.U8(random.Next(3)),
        152 or 153 => Wire.U64((ulong)(1_699_999_990_000L + random.Next(10_000))),
        22 or 21 => Wire.U32((uint)random.Next(90_000, 100_000)),
        _ => Bytes(field.Length, random),
    })]);

    private static byte[] Bytes(int length, Random random)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
