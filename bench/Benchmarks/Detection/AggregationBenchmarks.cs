using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using FlowCollector.Benchmarks.Decoders;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Benchmarks.Detection;

/// <summary>
/// What a receive thread spends per flow record: decoding plus counting under the node, both interfaces and,
/// with a monitored prefix, the prefix and the destination. Each invocation is one second of 10,000 full NetFlow
/// v5 datagrams, or the same records in NetFlow v9 under the load harness's template, closed by a tick; the mean
/// is per record. Durations are mixed as a router's export is: a third
/// under a second, a third cut by a 60-second active timeout, a third between 2 and 30 seconds.
/// </summary>
[MemoryDiagnoser]
public class AggregationBenchmarks
{
    private const int DatagramsPerSecond = 10_000;
    private static readonly NetworkAddress Exporter = NetworkAddress.Parse("192.0.2.1");
    private readonly FlowDecoder _decoder = new();
    private byte[] _v5 = [];
    private RateAggregator _aggregator = null!;
    private AggregationShard _shard = null!;
    private long _second = 1_700_000_000;

    [Params(false, true)]
    public bool MonitoredPrefix { get; set; }

    [Params(ExportFormat.NetFlowV5, ExportFormat.NetFlowV9)]
    public ExportFormat Format { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _v5 = BenchmarkDatagrams.NetFlowV5();
        for (var i = 0; i < BenchmarkDatagrams.V5Records; i++)
        {
            var record = _v5.AsSpan(24 + (48 * i), 48);
            var milliseconds = (i % 3) switch { 0 => 400u, 1 => 60_000u, _ => 2_000u + (uint)(i * 997 % 28_000) };
            BinaryPrimitives.WriteUInt32BigEndian(record[24..], 3_599_000 - milliseconds);
            BinaryPrimitives.WriteUInt32BigEndian(record[28..], 3_599_000);
        }

        var v9Template = Array.Empty<byte>();
        if (Format == ExportFormat.NetFlowV9)
        {
            (v9Template, _v5) = AsNetFlowV9(_v5);
        }

        var prefixes = MonitoredPrefix ? new MonitoredPrefixes([IpPrefix.Parse("198.51.100.0/24")]) : MonitoredPrefixes.None;
        _aggregator = new RateAggregator(new AggregationOptions(), prefixes, new InterfaceNames(), _second);
        _shard = _aggregator.CreateShard();
        if (v9Template.Length > 0)
        {
            var templates = new Sink(_shard);
            _decoder.Decode(v9Template, Exporter, _second * 1000, ref templates);
        }

        // Warm the wheel: every second of the spread holds decrements, as in steady state.
        for (var i = 0; i < 64; i++)
        {
            OneSecond();
        }
    }

    [Benchmark(OperationsPerInvoke = DatagramsPerSecond * BenchmarkDatagrams.V5Records)]
    public int OneSecond()
    {
        var sink = new Sink(_shard);
        var now = _second * 1000;
        for (var i = 0; i < DatagramsPerSecond; i++)
        {
            _shard.Enter();
            _decoder.Decode(_v5, Exporter, now, ref sink);
            _shard.Exit();
        }

        return _aggregator.Tick(_second++).Samples.Length;
    }

    /// <summary>The v5 datagram's records under the load harness's NetFlow v9 template (scripts/load/make-datagrams.py).</summary>
    private static (byte[] Template, byte[] Data) AsNetFlowV9(byte[] v5)
    {
        (ushort Type, ushort Length)[] fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (10, 2), (14, 2), (2, 4), (1, 4), (22, 4), (21, 4)];
        var template = new byte[20 + 8 + (fields.Length * 4)];
        WriteHeader(template, 1);
        BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(20), 0);
        BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(22), (ushort)(template.Length - 20));
        BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(24), 256);
        BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(26), (ushort)fields.Length);
        for (var i = 0; i < fields.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(28 + (i * 4)), fields[i].Type);
            BinaryPrimitives.WriteUInt16BigEndian(template.AsSpan(30 + (i * 4)), fields[i].Length);
        }

        const int RecordLength = 34;
        var records = BenchmarkDatagrams.V5Records;
        var setLength = (4 + (RecordLength * records) + 3) & ~3;
        var data = new byte[20 + setLength];
        WriteHeader(data, (ushort)records);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(20), 256);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(22), (ushort)setLength);
        for (var i = 0; i < records; i++)
        {
            var from = v5.AsSpan(24 + (48 * i), 48);
            var to = data.AsSpan(24 + (RecordLength * i), RecordLength);
            from[..8].CopyTo(to);
            from[32..36].CopyTo(to[8..]);
            to[12] = from[38];
            to[13] = from[37];
            from[12..32].CopyTo(to[14..]);
        }

        return (template, data);

        static void WriteHeader(Span<byte> datagram, ushort count)
        {
            BinaryPrimitives.WriteUInt16BigEndian(datagram, 9);
            BinaryPrimitives.WriteUInt16BigEndian(datagram[2..], count);
            BinaryPrimitives.WriteUInt32BigEndian(datagram[4..], 3_600_000);
            BinaryPrimitives.WriteUInt32BigEndian(datagram[8..], 1_700_000_000);
        }
    }

    private readonly struct Sink(AggregationShard shard) : IFlowSink
    {
        public void OnFlow(in FlowRecord flow) => shard.OnFlow(flow);

        public void OnCounters(in InterfaceCounters counters) => shard.OnCounters(counters);

        public readonly void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
