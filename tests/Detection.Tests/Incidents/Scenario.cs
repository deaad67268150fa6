using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>
/// Drives the real aggregator and detector second by second on a fake clock: traffic is described per second as
/// flow records, counted by a shard, closed by the tick and judged.
/// </summary>
internal sealed class Scenario
{
    public const long Start = 1_800_000_000;
    public static readonly NetworkAddress Router = NetworkAddress.Parse("192.0.2.1");
    public static readonly NetworkAddress Victim = NetworkAddress.Parse("203.0.113.10");
    public static readonly IpPrefix Monitored = IpPrefix.Parse("203.0.113.0/24");

    private readonly RateAggregator _aggregator;
    private readonly AggregationShard _shard;

    public Scenario(DetectionOptions? options = null, DetectorState? state = null, long start = Start)
    {
        Time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(start));
        Options = options ?? new DetectionOptions();
        Second = start;
        var names = new InterfaceNames();
        _aggregator = new RateAggregator(new AggregationOptions(), new MonitoredPrefixes([Monitored]), names, start, InterfaceCapacities.Configured(Options, names, 4096));
        _shard = _aggregator.CreateShard();
        Detector = new Detector(Options, "test-node", _aggregator.Names, _aggregator.Prefixes, Observer, state, _aggregator.Capacities);
    }

    public FakeTimeProvider Time { get; }

    public DetectionOptions Options { get; }

    public Detector Detector { get; }

    public RecordingObserver Observer { get; } = new();

    /// <summary>What each link can carry, as the aggregator and the detector know it.</summary>
    public InterfaceCapacities Capacities => _aggregator.Capacities;

    /// <summary>The second the next call counts into.</summary>
    public long Second { get; private set; }

    /// <summary>Runs <paramref name="seconds"/> seconds, each with the records <paramref name="traffic"/> makes for it.</summary>
    public void Run(int seconds, Func<long, IEnumerable<FlowRecord>> traffic)
    {
        for (var i = 0; i < seconds; i++)
        {
            _shard.Enter();
            try
            {
                foreach (var flow in traffic(Second))
                {
                    _shard.OnFlow(flow);
                }
            }
            finally
            {
                _shard.Exit();
            }

            Time.SetUtcNow(DateTimeOffset.FromUnixTimeSeconds(Second + 1));
            Detector.Process(_aggregator.Tick(Second, Time.GetUtcNow()));
            Second++;
        }
    }

    /// <summary>
    /// Counts <paramref name="records"/> into the current second without closing it, then lets the detector probe
    /// the second so far, as the collector does half-way through each second.
    /// </summary>
    public void Probe(IEnumerable<FlowRecord> records)
    {
        _shard.Enter();
        try
        {
            foreach (var flow in records)
            {
                _shard.OnFlow(flow);
            }
        }
        finally
        {
            _shard.Exit();
        }

        Time.SetUtcNow(DateTimeOffset.FromUnixTimeSeconds(Second).AddMilliseconds(500));
        Detector.Probe(_aggregator.Peek(Time.GetUtcNow()));
    }

    /// <summary>The incidents opened so far, one per line, for assertion messages.</summary>
    public string Report() => string.Join(
        "\n",
        Observer.Opened.DistinctBy(i => i.Id).Select(i => Observer.Latest[i.Id]).Select(i =>
            $"{i.Key} {i.AttackType} {i.Confidence} first={i.FirstSecond - Start} {i.ThresholdMetric}>{i.Threshold} peak={i.PeakPps} reopened={i.Reopened} closed={i.CloseReason}"));

    /// <summary>Incidents of one kind of key that opened, each once (a reopened incident keeps its id).</summary>
    public List<IncidentRecord> Opened(string keyKind) => Observer.Opened.Where(i => TrafficKey.KindName(i.KeyKind) == keyKind).DistinctBy(i => i.Id).ToList();
}

internal sealed class RecordingObserver : IIncidentObserver
{
    public List<IncidentRecord> Opened { get; } = [];

    public List<IncidentRecord> Closed { get; } = [];

    public Dictionary<long, IncidentRecord> Latest { get; } = [];

    public List<IncidentSecond> Seconds { get; } = [];

    /// <summary>Every change, in order.</summary>
    public List<IncidentEvent> Events { get; } = [];

    void IIncidentObserver.OnIncident(in IncidentEvent change)
    {
        Events.Add(change);
        Latest[change.Incident.Id] = change.Incident;
        if (change.Change == IncidentChange.Opened)
        {
            Opened.Add(change.Incident);
        }
        else if (change.Change == IncidentChange.Closed)
        {
            Closed.Add(change.Incident);
        }

        if (change.HasSecond)
        {
            Seconds.Add(change.Second);
        }
    }
}

/// <summary>Flow records of one second, as an exporter at 192.0.2.1 would report them unsampled.</summary>
internal static class Traffic
{
    public const byte Tcp = 6, Udp = 17, Icmp = 1, Gre = 47, Esp = 50;
    public const ushort Syn = 0x02, Ack = 0x10, Rst = 0x04, Psh = 0x08;

    public static FlowRecord Record(
        long second,
        NetworkAddress destination,
        byte protocol,
        double packets,
        int packetBytes,
        ushort sourcePort = 0,
        ushort tcpFlags = 0,
        string source = "198.51.100.7",
        uint input = 3,
        bool fragment = false) => new()
        {
            Format = ExportFormat.NetFlowV9,
            Exporter = Scenario.Router,
            InputInterface = input,
            OutputInterface = 7,
            IpVersion = 4,
            SourceAddress = NetworkAddress.Parse(source),
            DestinationAddress = destination,
            SourcePort = sourcePort,
            DestinationPort = protocol == Udp && sourcePort is 53 or 123 ? (ushort)40_000 : (ushort)443,
            IpProtocol = protocol,
            TcpFlags = tcpFlags,
            Packets = (ulong)Math.Round(packets),
            Bytes = (ulong)Math.Round(packets) * (ulong)packetBytes,
            SamplingRate = 1,
            StartMilliseconds = (second * 1000) + 100,
            EndMilliseconds = (second * 1000) + 900,
            Attributes = fragment ? FlowAttributes.Fragment : FlowAttributes.None,
        };

    /// <summary>A server's ordinary mix at about <paramref name="pps"/>: web traffic, some DNS and ICMP, a few new connections.</summary>
    public static IEnumerable<FlowRecord> Normal(long second, NetworkAddress destination, double pps, uint input = 3)
    {
        yield return Record(second, destination, Tcp, pps * 0.70, 900, 443, Ack, "198.51.100.20", input);
        yield return Record(second, destination, Tcp, pps * 0.03, 60, 51_000, Syn, "198.51.100.21", input);
        yield return Record(second, destination, Udp, pps * 0.20, 300, 33_000, source: "198.51.100.22", input: input);
        yield return Record(second, destination, Udp, pps * 0.05, 120, 53, source: "198.51.100.53", input: input);
        yield return Record(second, destination, Icmp, pps * 0.02, 84, source: "198.51.100.23", input: input);
    }

    /// <summary>Normal traffic whose level wanders ±30 % from second to second, reproducibly.</summary>
    public static IEnumerable<FlowRecord> Noisy(long second, NetworkAddress destination, double pps, uint input = 3)
    {
        var wobble = 0.7 + (0.6 * Hash(second, destination.Low));
        return Normal(second, destination, pps * wobble, input);
    }

    /// <summary>A flood of one kind from eight sources.</summary>
    public static IEnumerable<FlowRecord> Flood(long second, string kind, NetworkAddress destination, double pps, uint input = 3)
    {
        for (var i = 0; i < 8; i++)
        {
            var source = $"192.0.2.{100 + i}";
            var share = pps / 8;
            yield return kind switch
            {
                "udp_flood" => Record(second, destination, Udp, share, 512, (ushort)(20_000 + (i * 7)), source: source, input: input),
                "syn_flood" => Record(second, destination, Tcp, share, 60, (ushort)(30_000 + i), Syn, source, input),
                "tcp_ack_flood" => Record(second, destination, Tcp, share, 60, (ushort)(30_000 + i), Ack, source, input),
                "tcp_rst_flood" => Record(second, destination, Tcp, share, 60, (ushort)(30_000 + i), Rst | Ack, source, input),
                "icmp_flood" => Record(second, destination, Icmp, share, 1000, source: source, input: input),
                "fragment_flood" => Record(second, destination, Udp, share, 1480, 0, source: source, input: input, fragment: true),
                "gre_flood" => Record(second, destination, Gre, share, 600, source: source, input: input),
                "dns_amplification" => Record(second, destination, Udp, share, 1400, 53, source: source, input: input),
                "ntp_amplification" => Record(second, destination, Udp, share, 468, 123, source: source, input: input),
                "memcached_amplification" => Record(second, destination, Udp, share, 1400, 11211, source: source, input: input),
                "ssdp_amplification" => Record(second, destination, Udp, share, 320, 1900, source: source, input: input),
                "cldap_amplification" => Record(second, destination, Udp, share, 1400, 389, source: source, input: input),
                "chargen_amplification" => Record(second, destination, Udp, share, 1000, 19, source: source, input: input),
                "snmp_amplification" => Record(second, destination, Udp, share, 1400, 161, source: source, input: input),
                "ws_discovery_amplification" => Record(second, destination, Udp, share, 1200, 3702, source: source, input: input),
                "unknown" => Record(second, destination, Esp, share, 400, source: source, input: input),
                "multi_vector" => i % 2 == 0
                    ? Record(second, destination, Tcp, share, 60, (ushort)(30_000 + i), Syn, source, input)
                    : Record(second, destination, Udp, share, 512, (ushort)(20_000 + i), source: source, input: input),
                _ => throw new ArgumentException($"no flood called {kind}", nameof(kind)),
            };
        }
    }

    public static NetworkAddress Host(int lastOctet) => NetworkAddress.Parse($"203.0.113.{lastOctet}");

    /// <summary>A reproducible number in [0, 1) for a second and a key.</summary>
    public static double Hash(long second, ulong salt)
    {
        var mixed = ((ulong)second * 0x9E3779B97F4A7C15UL) ^ (salt * 0xC2B2AE3D27D4EB4FUL);
        mixed ^= mixed >> 31;
        mixed *= 0xBF58476D1CE4E5B9UL;
        mixed ^= mixed >> 29;
        return (mixed >> 11) * (1.0 / (1UL << 53));
    }
}
