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
/// v5 datagrams closed by a tick; the mean is per record. Durations are mixed as a router's export is: a third
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

        var prefixes = MonitoredPrefix ? new MonitoredPrefixes([IpPrefix.Parse("198.51.100.0/24")]) : MonitoredPrefixes.None;
        _aggregator = new RateAggregator(new AggregationOptions(), prefixes, new InterfaceNames(), _second);
        _shard = _aggregator.CreateShard();

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

    private readonly struct Sink(AggregationShard shard) : IFlowSink
    {
        public void OnFlow(in FlowRecord flow) => shard.OnFlow(flow);

        public void OnCounters(in InterfaceCounters counters) => shard.OnCounters(counters);
    }
}
