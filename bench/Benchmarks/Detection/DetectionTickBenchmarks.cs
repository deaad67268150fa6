using BenchmarkDotNet.Attributes;
using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Benchmarks.Detection;

/// <summary>
/// The once-a-second work with 10,000 destination keys (inside a monitored 2001:db8::/32) behind 1,000 interfaces of
/// one exporter: closing the second (merging the shard into samples) and judging every key. Before each
/// iteration a receive thread's second of records is counted, one record per destination; that is not measured.
/// </summary>
[MemoryDiagnoser]
public class DetectionTickBenchmarks
{
    private const int Destinations = 10_000;
    private const int Interfaces = 1_000;
    private static readonly NetworkAddress Exporter = NetworkAddress.Parse("192.0.2.1");
    private readonly FlowRecord[] _records = new FlowRecord[Destinations];
    private RateAggregator _aggregator = null!;
    private AggregationShard _shard = null!;
    private Detector _detector = null!;
    private TrafficSecond _closed = null!;
    private long _second = 1_700_000_000;

    [GlobalSetup]
    public void Setup()
    {
        _aggregator = new RateAggregator(new AggregationOptions { MaxDestinations = 20_000 }, new MonitoredPrefixes([IpPrefix.Parse("2001:db8::/32")]), new InterfaceNames(), _second);
        _shard = _aggregator.CreateShard();
        _detector = new Detector(new DetectionOptions { LearningSeconds = 30 }, "bench", _aggregator.Names, _aggregator.Prefixes, new CountingObserver());
        var destination = new byte[16];
        new byte[] { 0x20, 0x01, 0x0d, 0xb8 }.CopyTo(destination, 0);
        for (var i = 0; i < Destinations; i++)
        {
            destination[14] = (byte)(i >> 8);
            destination[15] = (byte)i;
            _records[i] = new FlowRecord
            {
                Format = ExportFormat.NetFlowV9,
                Exporter = Exporter,
                InputInterface = (uint)(1 + (i % Interfaces)),
                OutputInterface = (uint)(1 + ((i + 1) % Interfaces)),
                IpVersion = 6,
                SourceAddress = NetworkAddress.Parse("2001:db8:ffff::1"),
                DestinationAddress = NetworkAddress.FromIPv6(destination),
                SourcePort = 443,
                DestinationPort = (ushort)(40_000 + (i % 1000)),
                IpProtocol = 6,
                TcpFlags = 0x10,
                Packets = 20 + (ulong)(i % 7),
                Bytes = 20_000,
                SamplingRate = 1,
            };
        }

        // Past the learning period, so thresholds are learned ones.
        for (var i = 0; i < 40; i++)
        {
            Count();
            Tick();
        }
    }

    [IterationSetup(Target = nameof(Tick))]
    public void Count()
    {
        _shard.Enter();
        for (var i = 0; i < _records.Length; i++)
        {
            _records[i].StartMilliseconds = _records[i].EndMilliseconds = (_second * 1000) + 500;
            _shard.OnFlow(_records[i]);
        }

        _shard.Exit();
    }

    /// <summary>Merge and detection, as the collector's tick does them.</summary>
    [Benchmark]
    public int Tick()
    {
        _closed = _aggregator.Tick(_second);
        _detector.Process(_closed);
        _second++;
        return _closed.Samples.Length;
    }

    /// <summary>Detection alone, over the same 12,000-odd samples each time, one second later.</summary>
    [Benchmark]
    public int Detect()
    {
        _closed.Second = _second++;
        _detector.Process(_closed);
        return _detector.KeyCount;
    }
}
