using System.Buffers.Binary;
using System.Net;

namespace FlowCollector.Decoders.Tests.Support;

/// <summary>Big-endian field values for hand-built export datagrams.</summary>
internal static class Wire
{
    public static byte[] U8(int value) => [(byte)value];

    public static byte[] U16(int value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)value);
        return bytes;
    }

    public static byte[] U24(int value) => [(byte)(value >> 16), (byte)(value >> 8), (byte)value];

    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] F64(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(bytes, value);
        return bytes;
    }

    public static byte[] Ip(string address) => IPAddress.Parse(address).GetAddressBytes();

    /// <summary>NTP 64-bit timestamp of a Unix time in milliseconds.</summary>
    public static byte[] Ntp(long unixMilliseconds)
    {
        var seconds = (ulong)((unixMilliseconds / 1000) + 2_208_988_800);
        var fraction = (ulong)(unixMilliseconds % 1000) * (1UL << 32) / 1000;
        return U64((seconds << 32) | fraction);
    }

    /// <summary>A variable-length value with its RFC 7011 §7 length prefix (1 byte, or 255 and 2 bytes).</summary>
    public static byte[] VariableLength(byte[] value) =>
        value.Length < 255 ? [(byte)value.Length, .. value] : [255, .. U16(value.Length), .. value];

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}

/// <summary>A template field specifier; <paramref name="Enterprise"/> is used by IPFIX only.</summary>
public readonly record struct Field(ushort Type, ushort Length, uint Enterprise = 0)
{
    public const ushort Variable = 0xFFFF;
}

/// <summary>Builds NetFlow v5 datagrams (24-byte header, 48-byte records).</summary>
internal static class NetFlowV5Builder
{
    public static byte[] Datagram(
        IReadOnlyList<byte[]> records,
        uint sysUptime = 100_000,
        uint unixSeconds = 1_700_000_000,
        uint sequence = 0,
        byte engineType = 0,
        byte engineId = 0,
        ushort sampling = 0,
        int? count = null)
    {
        return Wire.Concat(
            Wire.U16(5),
            Wire.U16(count ?? records.Count),
            Wire.U32(sysUptime),
            Wire.U32(unixSeconds),
            Wire.U32(0),
            Wire.U32(sequence),
            Wire.U8(engineType),
            Wire.U8(engineId),
            Wire.U16(sampling),
            Wire.Concat([.. records]));
    }

    public static byte[] Record(
        string source = "192.0.2.1",
        string destination = "198.51.100.1",
        ushort sourcePort = 1234,
        ushort destinationPort = 80,
        byte protocol = 6,
        byte tcpFlags = 0x02,
        uint packets = 10,
        uint bytes = 1000,
        uint first = 90_000,
        uint last = 99_000,
        ushort input = 1,
        ushort output = 2)
    {
        return Wire.Concat(
            Wire.Ip(source),
            Wire.Ip(destination),
            Wire.Ip("0.0.0.0"),
            Wire.U16(input),
            Wire.U16(output),
            Wire.U32(packets),
            Wire.U32(bytes),
            Wire.U32(first),
            Wire.U32(last),
            Wire.U16(sourcePort),
            Wire.U16(destinationPort),
            Wire.U8(0),
            Wire.U8(tcpFlags),
            Wire.U8(protocol),
            Wire.U8(0),
            Wire.U16(0),
            Wire.U16(0),
            Wire.U8(24),
            Wire.U8(24),
            Wire.U16(0));
    }
}

/// <summary>Builds NetFlow v9 datagrams flowset by flowset.</summary>
internal sealed class NetFlowV9Builder(uint sourceId = 0, uint sequence = 0, uint sysUptime = 100_000, uint unixSeconds = 1_700_000_000, int? count = null)
{
    private readonly List<byte[]> _flowSets = [];

    public NetFlowV9Builder Template(ushort id, params Field[] fields) =>
        FlowSet(0, Wire.Concat(Wire.U16(id), Wire.U16(fields.Length), Wire.Concat([.. fields.Select(f => Wire.Concat(Wire.U16(f.Type), Wire.U16(f.Length)))])));

    public NetFlowV9Builder OptionsTemplate(ushort id, Field[] scope, Field[] options) =>
        FlowSet(1, Wire.Concat(
            Wire.U16(id),
            Wire.U16(scope.Length * 4),
            Wire.U16(options.Length * 4),
            Wire.Concat([.. scope.Concat(options).Select(f => Wire.Concat(Wire.U16(f.Type), Wire.U16(f.Length)))]),
            Wire.U16(0)));

    public NetFlowV9Builder Data(ushort templateId, params byte[][] records) => FlowSet(templateId, Wire.Concat(records), pad: true);

    public NetFlowV9Builder FlowSet(ushort id, byte[] body, bool pad = false)
    {
        var padding = pad ? (4 - ((body.Length + 4) % 4)) % 4 : 0;
        _flowSets.Add(Wire.Concat(Wire.U16(id), Wire.U16(body.Length + 4 + padding), body, new byte[padding]));
        return this;
    }

    public byte[] Build() => Wire.Concat(
        Wire.U16(9),
        Wire.U16(count ?? _flowSets.Count),
        Wire.U32(sysUptime),
        Wire.U32(unixSeconds),
        Wire.U32(sequence),
        Wire.U32(sourceId),
        Wire.Concat([.. _flowSets]));
}

/// <summary>Builds IPFIX messages set by set.</summary>
internal sealed class IpfixBuilder(uint domain = 0, uint sequence = 0, uint exportSeconds = 1_700_000_000)
{
    private readonly List<byte[]> _sets = [];

    public IpfixBuilder Template(ushort id, params Field[] fields) =>
        Set(2, Wire.Concat(Wire.U16(id), Wire.U16(fields.Length), Specifiers(fields)));

    public IpfixBuilder OptionsTemplate(ushort id, Field[] scope, Field[] options) =>
        Set(3, Wire.Concat(Wire.U16(id), Wire.U16(scope.Length + options.Length), Wire.U16(scope.Length), Specifiers([.. scope, .. options])));

    /// <summary>A template record with no fields: withdraws one template, or all of them for ID 2 (3 in an options set).</summary>
    public IpfixBuilder Withdraw(ushort id, bool options = false) => Set((ushort)(options ? 3 : 2), Wire.Concat(Wire.U16(id), Wire.U16(0)));

    public IpfixBuilder Data(ushort templateId, params byte[][] records) => Set(templateId, Wire.Concat(records));

    public IpfixBuilder Set(ushort id, byte[] body)
    {
        _sets.Add(Wire.Concat(Wire.U16(id), Wire.U16(body.Length + 4), body));
        return this;
    }

    public byte[] Build()
    {
        var body = Wire.Concat([.. _sets]);
        return Wire.Concat(Wire.U16(10), Wire.U16(body.Length + 16), Wire.U32(exportSeconds), Wire.U32(sequence), Wire.U32(domain), body);
    }

    private static byte[] Specifiers(Field[] fields) => Wire.Concat([.. fields.Select(f => f.Enterprise == 0
        ? Wire.Concat(Wire.U16(f.Type), Wire.U16(f.Length))
        : Wire.Concat(Wire.U16(f.Type | 0x8000), Wire.U16(f.Length), Wire.U32(f.Enterprise)))]);
}

/// <summary>A decoder with a clock, for tests that send datagrams one after another.</summary>
internal sealed class DecoderHarness(FlowCollector.Decoders.Flows.FlowDecoderOptions? options = null)
{
    public static readonly NetworkAddress Exporter = NetworkAddress.Parse("192.0.2.10");

    public FlowCollector.Decoders.Flows.FlowDecoder Decoder { get; } = new(options);

    public long Now { get; set; } = 1_700_000_000_000;

    public FlowCollector.Decoders.Exporters.ExporterState? State => Decoder.Exporters.Find(Exporter);

    public (DecodeStatus Status, List<FlowRecord> Records) Decode(byte[] datagram, NetworkAddress? exporter = null)
    {
        var sink = new RecordingSink();
        var status = Decoder.Decode(datagram, exporter ?? Exporter, Now, ref sink);
        return (status, sink.Records);
    }
}

/// <summary>Builds sFlow v5 datagrams sample by sample (XDR: 4-byte words, opaque data padded to 4 bytes).</summary>
internal sealed class SFlowBuilder(string agent = "192.0.2.77", uint subAgent = 0, uint sequence = 1, uint uptime = 100_000)
{
    private readonly List<byte[]> _samples = [];

    public static byte[] Padded(byte[] data) => Wire.Concat(data, new byte[(4 - (data.Length % 4)) % 4]);

    public static byte[] Record(uint format, byte[] body) => Wire.Concat(Wire.U32(format), Wire.U32((uint)body.Length), Padded(body));

    /// <summary>Raw packet header record: protocol (1 Ethernet, 11 IPv4, 12 IPv6), frame length, stripped, header.</summary>
    public static byte[] RawHeader(byte[] header, uint frameLength, uint protocol = 1, uint stripped = 4) =>
        Record(1, Wire.Concat(Wire.U32(protocol), Wire.U32(frameLength), Wire.U32(stripped), Wire.U32((uint)header.Length), Padded(header)));

    public static byte[] SampledIPv4(string source, string destination, uint protocol, uint sourcePort, uint destinationPort, uint length, uint tcpFlags = 0) =>
        Record(3, Wire.Concat(Wire.U32(length), Wire.U32(protocol), Wire.Ip(source), Wire.Ip(destination), Wire.U32(sourcePort), Wire.U32(destinationPort), Wire.U32(tcpFlags), Wire.U32(0)));

    public static byte[] ExtendedSwitch(uint sourceVlan) => Record(1001, Wire.Concat(Wire.U32(sourceVlan), Wire.U32(0), Wire.U32(sourceVlan), Wire.U32(0)));

    public static byte[] GenericCounters(uint ifIndex, ulong speed, ulong inOctets, uint inUnicast, ulong outOctets, uint outUnicast, uint inDiscards = 0, uint inErrors = 0, uint inMulticast = 0) =>
        Record(1, Wire.Concat(
            Wire.U32(ifIndex), Wire.U32(6), Wire.U64(speed), Wire.U32(1), Wire.U32(3),
            Wire.U64(inOctets), Wire.U32(inUnicast), Wire.U32(inMulticast), Wire.U32(0), Wire.U32(inDiscards), Wire.U32(inErrors), Wire.U32(0),
            Wire.U64(outOctets), Wire.U32(outUnicast), Wire.U32(0), Wire.U32(0), Wire.U32(0), Wire.U32(0), Wire.U32(0)));

    public static byte[] EthernetCounters(uint fcsErrors) => Record(2, Wire.Concat(Wire.U32(0), Wire.U32(fcsErrors), new byte[44]));

    public SFlowBuilder FlowSample(uint sequence, uint sourceIndex, uint rate, uint pool, uint drops, uint input, uint output, params byte[][] records) =>
        Sample(1, Wire.Concat(Wire.U32(sequence), Wire.U32(sourceIndex), Wire.U32(rate), Wire.U32(pool), Wire.U32(drops), Wire.U32(input), Wire.U32(output), Wire.U32((uint)records.Length), Wire.Concat(records)));

    public SFlowBuilder ExpandedFlowSample(uint sequence, uint sourceIndex, uint rate, uint pool, uint drops, (uint Format, uint Value) input, (uint Format, uint Value) output, params byte[][] records) =>
        Sample(3, Wire.Concat(
            Wire.U32(sequence), Wire.U32(0), Wire.U32(sourceIndex), Wire.U32(rate), Wire.U32(pool), Wire.U32(drops),
            Wire.U32(input.Format), Wire.U32(input.Value), Wire.U32(output.Format), Wire.U32(output.Value), Wire.U32((uint)records.Length), Wire.Concat(records)));

    public SFlowBuilder CounterSample(uint sequence, uint sourceIndex, params byte[][] records) =>
        Sample(2, Wire.Concat(Wire.U32(sequence), Wire.U32(sourceIndex), Wire.U32((uint)records.Length), Wire.Concat(records)));

    public SFlowBuilder Sample(uint format, byte[] body)
    {
        _samples.Add(Wire.Concat(Wire.U32(format), Wire.U32((uint)body.Length), body));
        return this;
    }

    public byte[] Build()
    {
        var address = Wire.Ip(agent);
        return Wire.Concat(
            Wire.U32(5),
            Wire.U32(address.Length == 4 ? 1u : 2u),
            address,
            Wire.U32(subAgent),
            Wire.U32(sequence),
            Wire.U32(uptime),
            Wire.U32((uint)_samples.Count),
            Wire.Concat([.. _samples]));
    }
}
