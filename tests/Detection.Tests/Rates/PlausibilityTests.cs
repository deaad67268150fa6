using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Rates;

/// <summary>
/// Records that cannot describe real traffic are counted as implausible and never become rates: bytes per packet no
/// IP packet has, a rate no link carries, or more than twice what the interface they name can carry.
/// </summary>
public sealed class PlausibilityTests
{
    private const long Second = 1_700_000_000;
    private static readonly NetworkAddress Router = NetworkAddress.Parse("192.0.2.1");

    private static FlowRecord Flow(ulong packets, ulong bytes, uint rate = 1, long durationMilliseconds = 0, uint input = 3) => new()
    {
        Format = ExportFormat.NetFlowV9,
        Exporter = Router,
        InputInterface = input,
        OutputInterface = 7,
        IpVersion = 4,
        SourceAddress = NetworkAddress.Parse("198.51.100.7"),
        DestinationAddress = NetworkAddress.Parse("203.0.113.10"),
        SourcePort = 53,
        DestinationPort = 40_000,
        IpProtocol = 17,
        Packets = packets,
        Bytes = bytes,
        SamplingRate = rate,
        StartMilliseconds = (Second * 1000) - durationMilliseconds,
        EndMilliseconds = Second * 1000,
    };

    private static (TrafficSecond Second, AggregationStatistics Statistics) Count(RateAggregator aggregator, params FlowRecord[] flows)
    {
        var shard = aggregator.CreateShard();
        shard.Enter();
        foreach (var flow in flows)
        {
            shard.OnFlow(flow);
        }

        shard.Exit();
        return (aggregator.Tick(Second), aggregator.Statistics());
    }

    private static double NodePackets(TrafficSecond second)
    {
        foreach (var sample in second.Samples)
        {
            if (sample.Key.Kind == KeyKind.Node)
            {
                return sample.Counts.Packets;
            }
        }

        return 0;
    }

    private static RateAggregator Aggregator(InterfaceCapacities? capacities = null) =>
        new(new AggregationOptions(), new MonitoredPrefixes([IpPrefix.Parse("203.0.113.0/24")]), new InterfaceNames(), Second, capacities);

    public static TheoryData<ulong, ulong, string> ImpossiblePacketSizes() => new()
    {
        { 1_000, 19_999, "under 20 bytes a packet" },
        { 1, 70_000, "over 65,599 bytes a packet" },
        { 3_000_000_000, 1_000, "a billion packets of a third of a byte" },
    };

    [Theory]
    [MemberData(nameof(ImpossiblePacketSizes))]
    public void OnFlow_BytesPerPacketNoIpPacketHas_IsCountedAsImplausibleNotAsTraffic(ulong packets, ulong bytes, string what)
    {
        var (second, statistics) = Count(Aggregator(), Flow(packets, bytes), Flow(10, 15_000));

        Assert.True(NodePackets(second) == 10, what);
        Assert.Equal(1, statistics.ImplausiblePacketSize);
        Assert.Equal(Router, statistics.LastImplausibleExporter);
    }

    [Fact]
    public void OnFlow_RateBeyondAnyLink_IsImplausibleEvenWhenTheSamplingRateMakesIt()
    {
        // 2 billion packets in a second, and 1,000 packets at a forged sampling rate of one in four billion.
        var (second, statistics) = Count(Aggregator(), Flow(2_000_000_000, 128_000_000_000), Flow(1_000, 64_000, rate: 4_000_000_000), Flow(10, 15_000, rate: 100));

        Assert.Equal(1_000, NodePackets(second));
        Assert.Equal(2, statistics.ImplausibleRate);
    }

    [Fact]
    public void OnFlow_TheSameVolumeSpreadOverItsDuration_IsPlausible()
    {
        // 2 billion packets over 60 seconds is 33 million a second: a busy link, not an impossible one.
        var (_, statistics) = Count(Aggregator(), Flow(2_000_000_000, 128_000_000_000, durationMilliseconds: 60_000));

        Assert.Equal(0, statistics.Implausible);
    }

    [Fact]
    public void OnFlow_MoreThanTwiceTheReportedInterfaceSpeed_IsImplausible()
    {
        var aggregator = Aggregator();

        // The agent says interface 3 is a 1 Gbit/s port.
        aggregator.AddCounters(new InterfaceCounters { Source = CounterSource.SFlow, Exporter = Router, IfIndex = 3, IfSpeed = 1_000_000_000, Known = KnownCounters.Speed });
        var (second, statistics) = Count(aggregator, Flow(300_000, 450_000_000), Flow(100_000, 150_000_000));

        // 3.6 Gbit/s on a 1 Gbit/s port is not believed; 1.2 Gbit/s may be a sampled estimate's overshoot.
        Assert.Equal(100_000, NodePackets(second));
        Assert.Equal(1, statistics.ImplausibleCapacity);
    }

    [Fact]
    public void OnFlow_ConfiguredInterfaceCapacity_AppliesToThatInterfaceOnly()
    {
        var options = new DetectionOptions();
        options.Overrides.Add(new DetectionOverride { Interface = "3", CapacityBps = 100e6 });
        var aggregator = Aggregator(InterfaceCapacities.Configured(options, new InterfaceNames(), 4096));

        var (second, statistics) = Count(aggregator, Flow(100_000, 150_000_000, input: 3), Flow(100_000, 150_000_000, input: 4));

        Assert.Equal(100_000, NodePackets(second));
        Assert.Equal(1, statistics.ImplausibleCapacity);
    }

    [Fact]
    public void Capacities_ReportedSpeedWinsOverConfiguredAndDefault_AndTheLargestIsKnown()
    {
        var options = new DetectionOptions { DefaultCapacityBps = 10e9 };
        options.Overrides.Add(new DetectionOverride { Interface = "ae0", CapacityBps = 40e9 });
        var names = new InterfaceNames();
        var capacities = InterfaceCapacities.Configured(options, names, 4096);

        Assert.Equal(40e9, capacities.Of(NetworkAddress.None, names.Id("ae0")));
        Assert.Equal(10e9, capacities.Of(Router, 12));
        capacities.Report(Router, 12, 100e9);
        Assert.Equal(100e9, capacities.Of(Router, 12));
        Assert.Equal(100e9, capacities.LargestBps);
    }

    [Fact]
    public void Options_RecordBounds_AreValidated()
    {
        Assert.Contains(new AggregationOptions { MaxRecordPps = double.NaN }.Validate(), e => e.StartsWith("MaxRecordPps:", StringComparison.Ordinal));
        Assert.Contains(new AggregationOptions { MaxRecordBps = 0 }.Validate(), e => e.StartsWith("MaxRecordBps:", StringComparison.Ordinal));
    }
}
