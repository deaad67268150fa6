using BenchmarkDotNet.Attributes;
using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Benchmarks.Detection;

/// <summary>
/// The once-a-second work during a carpet bombing: every one of <see cref="OpenIncidents"/> destinations inside
/// 2001:db8::/32 receives a DNS-amplification flood, so each has an open incident that is updated every second.
/// <c>Tick</c> is merging the shard's second and judging it, with every incident's record handed to an observer as
/// the store and mitigation receive them. Counting the second's records happens before each iteration and is not
/// measured.
/// </summary>
[MemoryDiagnoser]
public class OpenIncidentsTickBenchmarks
{
    private const int Interfaces = 16;
    private static readonly NetworkAddress Exporter = NetworkAddress.Parse("192.0.2.1");
    private FlowRecord[] _records = [];
    private RateAggregator _aggregator = null!;
    private AggregationShard _shard = null!;
    private Detector _detector = null!;
    private CountingObserver _observer = null!;
    private long _second = 1_700_000_000;

    [Params(1_000, 10_000)]
    public int OpenIncidents { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var monitored = new MonitoredPrefixes([IpPrefix.Parse("2001:db8::/32")]);
        _aggregator = new RateAggregator(new AggregationOptions { MaxDestinations = 20_000 }, monitored, new InterfaceNames(), _second);
        _shard = _aggregator.CreateShard();
        _observer = new CountingObserver();
        _detector = new Detector(new DetectionOptions { MaxOpenIncidents = 20_000 }, "bench", _aggregator.Names, _aggregator.Prefixes, _observer);
        _records = new FlowRecord[OpenIncidents];
        var destination = new byte[16];
        new byte[] { 0x20, 0x01, 0x0d, 0xb8 }.CopyTo(destination, 0);
        for (var i = 0; i < OpenIncidents; i++)
        {
            destination[14] = (byte)(i >> 8);
            destination[15] = (byte)i;
            _records[i] = new FlowRecord
            {
                Format = ExportFormat.NetFlowV9,
                Exporter = Exporter,
                InputInterface = (uint)(1 + (i % Interfaces)),
                OutputInterface = 100,
                IpVersion = 6,
                SourceAddress = NetworkAddress.Parse("2001:db8:ffff::35"),
                DestinationAddress = NetworkAddress.FromIPv6(destination),
                SourcePort = 53,
                DestinationPort = (ushort)(20_000 + (i % 1000)),
                IpProtocol = 17,
                Packets = 30_000,
                Bytes = 30_000 * 1_200,
                SamplingRate = 1,
            };
        }

        // 30,000 pps per host is over the destinations' learning floor: every host's incident opens in the first second.
        for (var i = 0; i < 3; i++)
        {
            Count();
            Tick();
        }

        if (_detector.OpenIncidents.Count(incident => incident.KeyKind == KeyKind.Destination) != OpenIncidents)
        {
            throw new InvalidOperationException($"expected {OpenIncidents} open destination incidents, found {_detector.OpenIncidents.Count}");
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

    /// <summary>Merge and detection with every open incident updated, as the collector's tick does them.</summary>
    [Benchmark]
    public long Tick()
    {
        _detector.Process(_aggregator.Tick(_second));
        _second++;
        return _observer.Updates;
    }
}
