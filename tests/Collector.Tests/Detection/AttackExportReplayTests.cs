using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Decode;
using FlowCollector.Collector.Tests.Support;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Tests.Detection;

/// <summary>
/// Attacks as real exporters exported them (tests/fixtures/pcaps/attacks: scapy traffic through softflowd NetFlow v9
/// and IPFIX and pmacctd sFlow 1:10, captured live with its arrival times), replayed with their own timing through the
/// real decoder, aggregator and detector: the tick at each second's end and the probes at 250, 500 and 750 ms, as
/// the collector's clock runs them. Each attack must be named as attacks.json says, under the key it says, within
/// half a second of its first record's arrival, with no other alarm; pulse waves must be one incident that catches
/// every pulse.
/// </summary>
public sealed class AttackExportReplayTests(ITestOutputHelper output)
{
    private static readonly string Folder = Path.Combine(Flowcollector.RepositoryRoot, "tests", "fixtures", "pcaps", "attacks");

    public static TheoryData<string, string> Exports()
    {
        var data = new TheoryData<string, string>();
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "attacks.json")));
        foreach (var scenario in manifest.RootElement.EnumerateObject())
        {
            foreach (var exporter in scenario.Value.GetProperty("exporters").EnumerateObject())
            {
                data.Add(scenario.Name, exporter.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Replay_AttackThroughARealExporter_IsNamedWithinHalfASecond(string scenario, string exporter)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "attacks.json")));
        var expected = manifest.RootElement.GetProperty(scenario);
        var port = expected.GetProperty("exporters").GetProperty(exporter).GetInt32();
        var address = expected.GetProperty("address").GetString()!;
        var pulses = expected.GetProperty("pulses").EnumerateArray().Select(p => DateTimeOffset.FromUnixTimeMilliseconds((long)(p[0].GetDouble() * 1000))).ToList();

        var records = Decode(Path.Combine(Folder, scenario + ".pcap"), port);
        var arrivals = pulses.Select(start => records.First(r => r.Arrived >= start && IsAttack(r.Flow, scenario, address)).Arrived).ToList();
        var replay = new ExportReplay(new DetectionOptions { LearningSeconds = 5 }, IpPrefix.Parse("203.0.113.0/24"), IpPrefix.Parse("2001:db8::/64"));
        replay.Run(records);

        var alarms = replay.Events.Where(e => e.Change == IncidentChange.Opened && e.Incident.KeyKind is KeyKind.Destination or KeyKind.Prefix)
            .Select(e => e.Incident).DistinctBy(i => i.Id).ToList();
        var incident = Assert.Single(alarms);
        var latest = replay.Latest[incident.Id];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{scenario} via {exporter}: {latest.Key} {AttackNames.Name(latest.AttackType)} [{string.Join(", ", latest.Vectors.Select(AttackNames.Name))}] opened {(incident.OpenedAt - arrivals[0]).TotalSeconds:F3} s after the first attack record arrived, reopened {latest.Reopened}"));

        Assert.Equal(expected.GetProperty("key").GetString(), TrafficKey.KindName(latest.KeyKind));
        Assert.Equal(address, latest.Address);
        Assert.Equal(expected.GetProperty("attackType").GetString(), AttackNames.Name(latest.AttackType));
        Assert.Equal(expected.GetProperty("vectors").EnumerateArray().Select(v => v.GetString()), latest.Vectors.Select(AttackNames.Name));
        if (expected.TryGetProperty("vector", out var vector))
        {
            Assert.Equal(vector.GetString(), latest.Vector is { } named ? AttackNames.Name(named) : null);
        }

        // Within half a second of the attack's first record, and not before it (no false alarm).
        Assert.InRange(incident.OpenedAt - arrivals[0], TimeSpan.Zero, TimeSpan.FromMilliseconds(500));

        // Every pulse breaches the one incident within a second of its first record.
        foreach (var arrival in arrivals)
        {
            var second = arrival.ToUnixTimeSeconds();
            Assert.True(
                replay.Events.Any(e => e.HasSecond && e.Second.IncidentId == incident.Id && e.Second.Breaching && e.Second.Second >= second && e.Second.Second <= second + 1),
                $"the pulse whose first record arrived at {arrival:HH:mm:ss.fff} did not breach incident {incident.Id}");
        }
    }

    [Fact]
    public void Replay_PulseWaves_ReopenTheirIncidentRatherThanOpeningAnother()
    {
        var records = Decode(Path.Combine(Folder, "pulse_wave.pcap"), 6343);
        var replay = new ExportReplay(new DetectionOptions { LearningSeconds = 5 }, IpPrefix.Parse("203.0.113.0/24"));
        replay.Run(records);

        var opened = replay.Events.Where(e => e.Change == IncidentChange.Opened && e.Incident.KeyKind == KeyKind.Destination).ToList();
        Assert.True(opened.Count >= 2, "the waves' gaps close the incident at least once");
        Assert.Single(opened.Select(e => e.Incident.Id).Distinct());
        Assert.Equal(opened.Count - 1, replay.Latest[opened[0].Incident.Id].Reopened);
    }

    private static List<(FlowRecord Flow, DateTimeOffset Arrived)> Decode(string capture, int port)
    {
        var records = new List<(FlowRecord, DateTimeOffset)>();
        var decoder = new CaptureDecoder(new FlowDecoderOptions(), new HashSet<int> { port });
        Assert.True(decoder.TryDecode([capture], (flow, at) => records.Add((flow, at)), null, out var error), error);
        Assert.NotEmpty(records);
        return records;
    }

    /// <summary>Attack sources in traffic.py: reflectors 192.0.2.100-115, attackers 192.0.2.150-165 and 2001:db8:2::/64.</summary>
    private static bool IsAttack(in FlowRecord flow, string scenario, string address)
    {
        var source = flow.SourceAddress.ToString();
        var fromAttacker = source.StartsWith("192.0.2.1", StringComparison.Ordinal) || source.StartsWith("2001:db8:2::", StringComparison.Ordinal);
        var destination = flow.DestinationAddress.ToString();
        return fromAttacker && (scenario == "carpet_bombing" ? destination.StartsWith("203.0.113.", StringComparison.Ordinal) : destination == address);
    }

    /// <summary>
    /// Runs an export's records through the aggregator and detector on the capture's clock: each record is counted when
    /// it arrived; the second being counted is probed at 250, 500 and 750 ms if records arrived in it since its start,
    /// and closed at its end, as the collector's own clock does. After the last record, a minute more of ticks.
    /// </summary>
    private sealed class ExportReplay : IIncidentObserver
    {
        private readonly DetectionOptions _options;
        private readonly IpPrefix[] _monitored;

        public ExportReplay(DetectionOptions options, params IpPrefix[] monitored)
        {
            _options = options;
            _monitored = monitored;
        }

        public List<IncidentEvent> Events { get; } = [];

        public Dictionary<long, IncidentRecord> Latest { get; } = [];

        public void Run(List<(FlowRecord Flow, DateTimeOffset Arrived)> records)
        {
            var second = records[0].Arrived.ToUnixTimeSeconds();
            var names = new InterfaceNames();
            var aggregator = new RateAggregator(new AggregationOptions(), new MonitoredPrefixes(_monitored), names, second, InterfaceCapacities.Configured(_options, names, 4096));
            var shard = aggregator.CreateShard();
            var detector = new Detector(_options, "replay", aggregator.Names, aggregator.Prefixes, this, null, aggregator.Capacities);
            var probes = 0;
            var arrived = false;

            void Advance(DateTimeOffset until)
            {
                while (true)
                {
                    var boundary = DateTimeOffset.FromUnixTimeSeconds(second + 1);
                    var probeAt = probes < 3 ? DateTimeOffset.FromUnixTimeSeconds(second).AddMilliseconds(250 * (probes + 1)) : DateTimeOffset.MaxValue;
                    var next = probeAt < boundary ? probeAt : boundary;
                    if (next > until)
                    {
                        return;
                    }

                    if (next == probeAt)
                    {
                        if (arrived)
                        {
                            detector.Probe(aggregator.Peek(probeAt));
                        }

                        probes++;
                        continue;
                    }

                    detector.Process(aggregator.Tick(second, boundary));
                    second++;
                    probes = 0;
                    arrived = false;
                }
            }

            foreach (var (flow, at) in records)
            {
                Advance(at);
                shard.Enter();
                try
                {
                    shard.OnFlow(flow);
                }
                finally
                {
                    shard.Exit();
                }

                arrived = true;
            }

            Advance(records[^1].Arrived.AddSeconds(60));
        }

        void IIncidentObserver.OnIncident(in IncidentEvent change)
        {
            Events.Add(change);
            Latest[change.Incident.Id] = change.Incident;
        }
    }
}
