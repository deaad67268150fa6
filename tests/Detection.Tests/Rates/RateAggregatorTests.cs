using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Rates;

public sealed class RateAggregatorTests
{
    private const long Second = 1_700_000_000;
    private static readonly NetworkAddress Router = NetworkAddress.Parse("192.0.2.1");
    private static readonly NetworkAddress Victim = NetworkAddress.Parse("203.0.113.10");

    private static RateAggregator Aggregator(AggregationOptions? options = null, params string[] monitored) =>
        new(options ?? new AggregationOptions(), new MonitoredPrefixes(monitored.Select(IpPrefix.Parse)), new InterfaceNames(), Second);

    private static FlowRecord Flow(
        string source = "198.51.100.7",
        string destination = "203.0.113.10",
        byte protocol = 17,
        ushort sourcePort = 53,
        ushort tcpFlags = 0,
        ulong packets = 10,
        ulong bytes = 15_000,
        uint rate = 1,
        long durationMilliseconds = 0,
        ExportFormat format = ExportFormat.NetFlowV9,
        FlowAttributes attributes = FlowAttributes.None) => new()
        {
            Format = format,
            Exporter = Router,
            InputInterface = 3,
            OutputInterface = 7,
            IpVersion = 4,
            SourceAddress = NetworkAddress.Parse(source),
            DestinationAddress = NetworkAddress.Parse(destination),
            SourcePort = sourcePort,
            DestinationPort = 40_000,
            IpProtocol = protocol,
            TcpFlags = tcpFlags,
            Packets = packets,
            Bytes = bytes,
            SamplingRate = rate,
            StartMilliseconds = (Second * 1000) - durationMilliseconds,
            EndMilliseconds = Second * 1000,
            Attributes = attributes,
        };

    private static void Add(AggregationShard shard, params FlowRecord[] flows)
    {
        shard.Enter();
        try
        {
            foreach (var flow in flows)
            {
                shard.OnFlow(flow);
            }
        }
        finally
        {
            shard.Exit();
        }
    }

    private static TrafficSample Find(TrafficSecond second, TrafficKey key)
    {
        foreach (var sample in second.Samples)
        {
            if (sample.Key == key)
            {
                return sample;
            }
        }

        throw new InvalidOperationException($"no sample for {key}");
    }

    private static bool Has(TrafficSecond second, TrafficKey key)
    {
        foreach (var sample in second.Samples)
        {
            if (sample.Key == key)
            {
                return true;
            }
        }

        return false;
    }

    [Fact]
    public void Tick_OneRecord_CountsItUnderNodeInterfacesPrefixAndDestinationTimesTheSamplingRate()
    {
        var aggregator = Aggregator(null, "203.0.113.0/24");
        Add(aggregator.CreateShard(), Flow(packets: 2, bytes: 3000, rate: 100));

        var second = aggregator.Tick(Second);

        var keys = new[]
        {
            TrafficKey.ForNode(TrafficSource.NetFlow),
            TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 3, FlowDirection.Ingress),
            TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Egress),
            TrafficKey.ForPrefix(0),
            TrafficKey.ForDestination(Victim, 0),
        };
        Assert.Equal(keys.Length, second.Samples.Length);
        foreach (var key in keys)
        {
            var sample = Find(second, key);
            Assert.Equal((200.0, 300_000.0, 100.0), (sample.Counts.Packets, sample.Counts.Bytes, sample.Counts.Flows));
            Assert.Equal(200.0, sample.Counts.UdpPackets);
            Assert.Equal(Second, sample.Second);
        }
    }

    [Fact]
    public void Tick_DestinationOutsideTheMonitoredPrefixes_GetsNoKeyOfItsOwn()
    {
        var aggregator = Aggregator(null, "203.0.113.0/24");
        Add(aggregator.CreateShard(), Flow(destination: "198.51.100.200"));

        var second = aggregator.Tick(Second);

        Assert.Equal(3, second.Samples.Length);
        Assert.False(Has(second, TrafficKey.ForPrefix(0)));
    }

    [Fact]
    public void Tick_ExporterWithoutInterfaces_CountsUnderInterfaceZero()
    {
        var aggregator = Aggregator();
        var flow = Flow(packets: 3);
        flow.InputInterface = 0;
        flow.OutputInterface = 0;
        Add(aggregator.CreateShard(), flow);

        var second = aggregator.Tick(Second);

        Assert.Equal(3.0, Find(second, TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 0, FlowDirection.Ingress)).Counts.Packets);
    }

    [Fact]
    public void Tick_SFlowSampleTheDeviceDropped_CountsOnlyOnItsInputInterface()
    {
        var aggregator = Aggregator();
        var flow = Flow(format: ExportFormat.SFlow);
        flow.OutputInterface = 0;
        flow.Attributes = FlowAttributes.Discarded;
        Add(aggregator.CreateShard(), flow);

        var second = aggregator.Tick(Second);

        Assert.True(Has(second, TrafficKey.ForInterface(TrafficSource.SFlow, Router, 3, FlowDirection.Ingress)));
        Assert.False(Has(second, TrafficKey.ForInterface(TrafficSource.SFlow, Router, 0, FlowDirection.Egress)));
    }

    [Fact]
    public void Tick_SixtySecondRecord_IsSpreadOverSixtySecondsInsteadOfASpike()
    {
        var aggregator = Aggregator(null, "203.0.113.0/24");
        var shard = aggregator.CreateShard();
        Add(shard, Flow(packets: 6000, bytes: 6_000_000, durationMilliseconds: 60_000));

        var rates = new List<double>();
        for (var s = 0; s < 65; s++)
        {
            var second = aggregator.Tick(Second + s);
            rates.Add(Has(second, TrafficKey.ForDestination(Victim, 0)) ? Find(second, TrafficKey.ForDestination(Victim, 0)).Counts.Packets : 0);
        }

        Assert.All(rates.Take(60), rate => Assert.Equal(100.0, rate, 6));
        Assert.All(rates.Skip(60), rate => Assert.Equal(0.0, rate));
    }

    [Theory]
    [InlineData(1_050, new[] { 100.0, 0 })]
    [InlineData(2_003, new[] { 50.0, 50, 0 })]
    [InlineData(2_100, new[] { 50.0, 50, 0 })]
    [InlineData(2_101, new[] { 100.0 / 3, 100.0 / 3, 100.0 / 3, 0 })]
    public void Tick_RecordALittleLongerThanWholeSeconds_IsSpreadOverTheWholeSeconds(long milliseconds, double[] expected)
    {
        // softflowd closes its two-second IPv6 flows after 2,003 ms: three seconds would understate the rate by a third.
        var aggregator = Aggregator();
        var shard = aggregator.CreateShard();
        Add(shard, Flow(packets: 100, durationMilliseconds: milliseconds));

        for (var s = 0; s < expected.Length; s++)
        {
            var second = aggregator.Tick(Second + s);
            var packets = Has(second, TrafficKey.ForNode(TrafficSource.NetFlow)) ? Find(second, TrafficKey.ForNode(TrafficSource.NetFlow)).Counts.Packets : 0;
            Assert.True(Math.Abs(expected[s] - packets) < 1e-6, $"second {s}: {packets}, expected {expected[s]}");
        }
    }

    [Fact]
    public void Tick_SpreadRecordsAndInstantOnes_AddUp()
    {
        var aggregator = Aggregator();
        var shard = aggregator.CreateShard();
        Add(shard, Flow(packets: 100, durationMilliseconds: 10_000), Flow(packets: 7));

        var first = Find(aggregator.Tick(Second), TrafficKey.ForNode(TrafficSource.NetFlow));
        Add(shard, Flow(packets: 5, format: ExportFormat.SFlow));
        var next = Find(aggregator.Tick(Second + 1), TrafficKey.ForNode(TrafficSource.NetFlow));

        Assert.Equal(10.0 + 7, first.Counts.Packets, 6);
        Assert.Equal(10.0, next.Counts.Packets, 6);
    }

    [Fact]
    public void Tick_OneKeysRecordsOfMixedDurations_EachSpreadOverItsOwnSeconds()
    {
        // Records of one key alternate between durations within a second and across seconds: each ends when its own
        // duration does, whichever entry of the wheel the key used last.
        var aggregator = Aggregator();
        var shard = aggregator.CreateShard();
        Add(shard, Flow(packets: 20, durationMilliseconds: 2_000), Flow(packets: 50, durationMilliseconds: 5_000), Flow(packets: 40, durationMilliseconds: 2_000));
        var rates = new List<double> { Find(aggregator.Tick(Second), TrafficKey.ForNode(TrafficSource.NetFlow)).Counts.Packets };
        Add(shard, Flow(packets: 30, durationMilliseconds: 3_000), Flow(packets: 10, durationMilliseconds: 5_000));
        for (var s = 1; s < 8; s++)
        {
            var second = aggregator.Tick(Second + s);
            rates.Add(Has(second, TrafficKey.ForNode(TrafficSource.NetFlow)) ? Find(second, TrafficKey.ForNode(TrafficSource.NetFlow)).Counts.Packets : 0);
            Add(shard);
        }

        // Second 0: 10 + 20 (the 2 s records) + 10 (5 s); second 1: the same plus 10 (3 s) + 2 (5 s); then each runs out.
        double[] expected = [40, 52, 22, 22, 12, 2, 0, 0];
        Assert.Equal(expected.Length, rates.Count);
        for (var s = 0; s < expected.Length; s++)
        {
            Assert.True(Math.Abs(expected[s] - rates[s]) < 1e-6, $"second {s}: {rates[s]}, expected {expected[s]} ({string.Join(", ", rates)})");
        }
    }

    public static TheoryData<byte, ushort, FlowAttributes, string> Compositions() => new()
    {
        { 6, 0x02, FlowAttributes.None, "syn" },
        { 6, 0x10, FlowAttributes.None, "ack" },
        { 6, 0x18, FlowAttributes.None, "ack" },
        { 6, 0x14, FlowAttributes.None, "rst" },
        { 6, 0x1B, FlowAttributes.None, "tcp" },
        { 1, 0, FlowAttributes.None, "icmp" },
        { 47, 0, FlowAttributes.None, "gre" },
        { 50, 0, FlowAttributes.None, "other" },
        { 17, 0, FlowAttributes.Fragment, "fragment" },
    };

    [Theory]
    [MemberData(nameof(Compositions))]
    public void Tick_ProtocolAndFlags_LandInTheirCounters(byte protocol, ushort flags, FlowAttributes attributes, string expected)
    {
        var aggregator = Aggregator();
        Add(aggregator.CreateShard(), Flow(protocol: protocol, tcpFlags: flags, packets: 4, attributes: attributes));

        var counts = Find(aggregator.Tick(Second), TrafficKey.ForNode(TrafficSource.NetFlow)).Counts;

        var observed = new Dictionary<string, double>
        {
            ["syn"] = counts.SynPackets,
            ["ack"] = counts.AckPackets,
            ["rst"] = counts.RstPackets,
            ["tcp"] = counts.TcpPackets,
            ["icmp"] = counts.IcmpPackets,
            ["gre"] = counts.GrePackets,
            ["other"] = counts.OtherPackets,
            ["fragment"] = counts.FragmentPackets,
        };
        Assert.Equal(4.0, observed[expected]);
        Assert.Equal(protocol == 6 ? 4.0 : 0, counts.TcpPackets);
        foreach (var flagCounter in new[] { "syn", "ack", "rst" }.Where(name => name != expected))
        {
            Assert.Equal(0.0, observed[flagCounter]);
        }
    }

    [Fact]
    public void Tick_AmplificationTraffic_TopSourcePortAndSourcesAreKept()
    {
        var aggregator = Aggregator(null, "203.0.113.0/24");
        var shard = aggregator.CreateShard();
        for (var i = 0; i < 50; i++)
        {
            Add(shard, Flow(source: $"198.51.100.{i + 1}", sourcePort: 123, packets: 100));
        }

        Add(shard, Flow(source: "192.0.2.99", sourcePort: 53, packets: 5), Flow(source: "192.0.2.99", protocol: 6, sourcePort: 443, packets: 20, tcpFlags: 0x18));

        var sample = Find(aggregator.Tick(Second), TrafficKey.ForDestination(Victim, 0));

        Assert.True(sample.SourcePorts.TryGetTop(out var port, out var weight));
        Assert.Equal(((byte)17, (ushort)123), TrafficSample.SplitPortKey(port));
        Assert.True(weight >= 5000);
        Assert.Equal(8, sample.Sources.Count);
    }

    [Fact]
    public void Tick_RandomDestinationFlood_IsCappedAndTheOverflowCounted()
    {
        var aggregator = Aggregator(new AggregationOptions { MaxDestinations = 100 }, "203.0.113.0/24", "2001:db8::/32");
        var shard = aggregator.CreateShard();
        for (var i = 0; i < 1000; i++)
        {
            Add(shard, Flow(destination: $"2001:db8::{i:x}", packets: 1));
        }

        var second = aggregator.Tick(Second);

        var statistics = aggregator.Statistics();
        Assert.Equal(100, statistics.Destinations);
        Assert.Equal(900, statistics.DestinationOverflow);
        Assert.Equal(1000.0, Find(second, TrafficKey.ForPrefix(1)).Counts.Packets);
        Assert.Equal(100, Find(second, TrafficKey.ForPrefix(1)).Destinations);
    }

    [Fact]
    public void Tick_IdleKeys_AreForgottenAndFreeTheirPlace()
    {
        var aggregator = Aggregator(new AggregationOptions { MaxDestinations = 10, IdleSeconds = 10 }, "203.0.113.0/24");
        var shard = aggregator.CreateShard();
        for (var i = 0; i < 10; i++)
        {
            Add(shard, Flow(destination: $"203.0.113.{i}"));
        }

        for (var s = 0; s < 12; s++)
        {
            aggregator.Tick(Second + s);
        }

        Assert.Equal(0, aggregator.Statistics().Destinations);
        Add(shard, Flow(destination: "203.0.113.200"));
        Assert.True(Has(aggregator.Tick(Second + 12), TrafficKey.ForDestination(NetworkAddress.Parse("203.0.113.200"), 0)));
    }

    [Fact]
    public void Tick_ShardsOfSeveralThreads_AreMergedIntoOneSamplePerKey()
    {
        var aggregator = Aggregator(null, "203.0.113.0/24");
        var shards = Enumerable.Range(0, 4).Select(_ => aggregator.CreateShard()).ToArray();
        var totalPackets = 0.0;
        var seconds = new List<double>();
        var writers = shards.Select(shard => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                Add(shard, Flow(packets: 1));
            }
        })).ToArray();
        var s = 0;
        while (!writers.All(w => w.IsCompleted))
        {
            var second = aggregator.Tick(Second + s++);
            seconds.Add(Has(second, TrafficKey.ForNode(TrafficSource.NetFlow)) ? Find(second, TrafficKey.ForNode(TrafficSource.NetFlow)).Counts.Packets : 0);
        }

        var last = aggregator.Tick(Second + s);
        seconds.Add(Has(last, TrafficKey.ForNode(TrafficSource.NetFlow)) ? Find(last, TrafficKey.ForNode(TrafficSource.NetFlow)).Counts.Packets : 0);
        totalPackets = seconds.Sum();

        Assert.Equal(80_000.0, totalPackets);
    }

    [Fact]
    public void Tick_ProcNetDevCounters_BecomeRatesPerDirection()
    {
        var aggregator = Aggregator();
        aggregator.AddCounters(Counters("eth0", 1000, 10_000, 100, 1_000, at: 0));
        aggregator.Tick(Second);
        aggregator.AddCounters(Counters("eth0", 3000, 510_000, 150, 6_000, at: 2000));

        var second = aggregator.Tick(Second + 1);

        var id = aggregator.Names.Id("eth0");
        var inbound = Find(second, TrafficKey.ForInterface(TrafficSource.ProcNetDev, default, id, FlowDirection.Ingress));
        var outbound = Find(second, TrafficKey.ForInterface(TrafficSource.ProcNetDev, default, id, FlowDirection.Egress));
        Assert.Equal((1000.0, 250_000.0), (inbound.Counts.Packets, inbound.Counts.Bytes));
        Assert.Equal((25.0, 2_500.0), (outbound.Counts.Packets, outbound.Counts.Bytes));
    }

    [Fact]
    public void Tick_SFlowPacketCounterWrapping_IsAWrapNotAReset()
    {
        var aggregator = Aggregator();
        aggregator.AddCounters(SFlowCounters(inUnicast: uint.MaxValue - 99, inOctets: 1_000_000, at: 0));
        aggregator.Tick(Second);
        aggregator.AddCounters(SFlowCounters(inUnicast: 900, inOctets: 2_000_000, at: 10_000));

        var inbound = Find(aggregator.Tick(Second + 1), TrafficKey.ForInterface(TrafficSource.SFlowCounters, Router, 5, FlowDirection.Ingress));

        Assert.Equal(100.0, inbound.Counts.Packets);
        Assert.Equal(100_000.0, inbound.Counts.Bytes);
        Assert.Equal(0, aggregator.Statistics().CounterResets);
    }

    [Fact]
    public void Tick_CounterReset_GivesNoRateInsteadOfAnAbsurdOne()
    {
        var aggregator = Aggregator();
        aggregator.AddCounters(Counters("eth1", 5_000_000_000, 9_000_000_000, 0, 0, at: 0));
        aggregator.Tick(Second);
        aggregator.AddCounters(Counters("eth1", 10, 1_000, 0, 0, at: 1000));

        var inbound = Find(aggregator.Tick(Second + 1), TrafficKey.ForInterface(TrafficSource.ProcNetDev, default, aggregator.Names.Id("eth1"), FlowDirection.Ingress));

        Assert.Equal(0.0, inbound.Counts.Packets);
        Assert.Equal(1, aggregator.Statistics().CounterResets);
    }

    [Fact]
    public void Tick_CountersThatStopComing_StopProducingARate()
    {
        var aggregator = Aggregator();
        aggregator.AddCounters(Counters("eth2", 0, 0, 0, 0, at: 0));
        aggregator.AddCounters(Counters("eth2", 100, 1000, 0, 0, at: 1000));
        var key = TrafficKey.ForInterface(TrafficSource.ProcNetDev, default, aggregator.Names.Id("eth2"), FlowDirection.Ingress);

        // A tick's result is reused by the next tick: read it before ticking again.
        Assert.Equal(100.0, Find(aggregator.Tick(Second + 1), key).Counts.Packets);
        Assert.False(Has(aggregator.Tick(Second + 10), key));
    }

    [Fact]
    public void OnFlowAndTick_KeysExist_AllocateNothing()
    {
        var aggregator = Aggregator(monitored: "203.0.113.0/24");
        var shard = aggregator.CreateShard();
        var flows = Enumerable.Range(0, 30).Select(i => Flow(
            source: $"198.51.100.{i + 1}",
            destination: $"203.0.113.{(i % 10) + 1}",
            protocol: (byte)(i % 2 == 0 ? 6 : 17),
            sourcePort: (ushort)(1000 + i),
            tcpFlags: 0x02,
            durationMilliseconds: (i % 3) * 20_000)).ToArray();

        void OneSecond(long second)
        {
            shard.Enter();
            foreach (var flow in flows)
            {
                shard.OnFlow(flow);
            }

            shard.Exit();
            aggregator.Tick(second);
        }

        // Keys, wheel entries and result lists reach their steady size first.
        for (var second = Second; second < Second + 200; second++)
        {
            OneSecond(second);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var second = Second + 200; second < Second + 400; second++)
        {
            OneSecond(second);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static InterfaceCounters Counters(string name, ulong inPackets, ulong inOctets, ulong outPackets, ulong outOctets, long at) => new()
    {
        Source = CounterSource.ProcNetDev,
        Name = name,
        InUnicastPackets = inPackets,
        InOctets = inOctets,
        OutUnicastPackets = outPackets,
        OutOctets = outOctets,
        TimestampMilliseconds = (Second * 1000) + at,
    };

    private static InterfaceCounters SFlowCounters(ulong inUnicast, ulong inOctets, long at) => new()
    {
        Source = CounterSource.SFlow,
        Exporter = Router,
        IfIndex = 5,
        InUnicastPackets = inUnicast,
        InOctets = inOctets,
        TimestampMilliseconds = (Second * 1000) + at,
    };
}
