using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>
/// Router mode: an interface read from /proc/net/dev breaches with no composition (unknown), and a packet sample of
/// its traffic names the attack and victims, which later counter-only seconds do not undo.
/// </summary>
public sealed class PacketSampleTests
{
    private const long Start = 1_800_000_000;
    private readonly RecordingObserver _observer = new();
    private readonly RateAggregator _aggregator;
    private readonly Detector _detector;
    private ulong _packets;

    public PacketSampleTests()
    {
        var options = new DetectionOptions { CooldownSeconds = 3 };
        options.LearningFloors.Interface.Pps = 1_000;
        var names = new InterfaceNames();
        _aggregator = new RateAggregator(new AggregationOptions(), new MonitoredPrefixes([IpPrefix.Parse("203.0.113.0/24")]), names, Start);
        _detector = new Detector(options, "router-1", names, _aggregator.Prefixes, _observer, null, _aggregator.Capacities);
    }

    [Fact]
    public void Describe_AnOpenInterfaceIncident_NamesTheTypeAndVictimsAndTheyStay()
    {
        Run(Start, 2, 100);
        Run(Start + 2, 1, 50_000);
        var opened = Assert.Single(_observer.Opened);
        Assert.Equal(AttackType.Unknown, opened.AttackType);
        Assert.Null(opened.Address);

        var at = DateTimeOffset.FromUnixTimeSeconds(Start + 3).AddMilliseconds(300);
        Assert.True(_detector.Describe(UdpFlood(opened.Id), at));

        var described = Assert.Single(_observer.Events, e => e.Change == IncidentChange.Described);
        Assert.False(described.HasSecond);
        var incident = described.Incident;
        Assert.Equal(AttackType.UdpFlood, incident.AttackType);
        Assert.InRange(incident.Confidence, 0.9, 1.0);
        Assert.Equal("203.0.113.10", incident.Address);
        Assert.Equal(["203.0.113.10", "203.0.113.11"], incident.Victims.Select(v => v.Address));
        Assert.Equal(at, incident.UpdatedAt);
        Assert.Contains(incident.TopSourcePorts, p => p.Protocol == "udp" && p.Port == 40000);
        Assert.Equal(incident, Assert.Single(_detector.OpenIncidents));

        // More breaching seconds of bare counters: the type, victims and tops stay the sample's.
        Run(Start + 3, 2, 50_000);
        var latest = _observer.Events[^1].Incident;
        Assert.Equal(IncidentChange.Updated, _observer.Events[^1].Change);
        Assert.Equal(AttackType.UdpFlood, latest.AttackType);
        Assert.Equal("203.0.113.10", latest.Address);
        Assert.Equal(incident.TopSourcePorts, latest.TopSourcePorts);
    }

    [Fact]
    public void Describe_LaterSamplesOfTheSameAttack_UpdateTheVictimsRatesAndANewVictimIsDescribedAgain()
    {
        Run(Start, 2, 100);
        Run(Start + 2, 1, 50_000);
        var id = Assert.Single(_observer.Opened).Id;
        _detector.Describe(UdpFlood(id), DateTimeOffset.FromUnixTimeSeconds(Start + 3));

        // The victims followed: same attack, same heaviest victim, its rate now. Not news for mitigation or alerts.
        var later = UdpFlood(id) with { Victims = [new VictimRate("203.0.113.10", 61_000)], Follows = true };
        Assert.True(_detector.Describe(later, DateTimeOffset.FromUnixTimeSeconds(Start + 8)));
        var update = _observer.Events[^1];
        Assert.Equal(IncidentChange.Updated, update.Change);
        Assert.True(update.HasSecond);
        Assert.Equal(61_000, Assert.Single(update.Incident.Victims).Pps);
        Assert.Equal(AttackType.UdpFlood, update.Incident.AttackType);

        // The attack moves to another host: described again, so that mitigation follows it.
        var moved = UdpFlood(id) with { Victims = [new VictimRate("203.0.113.50", 58_000)], Follows = true };
        _detector.Describe(moved, DateTimeOffset.FromUnixTimeSeconds(Start + 13));
        Assert.Equal(IncidentChange.Described, _observer.Events[^1].Change);
        Assert.Equal("203.0.113.50", _observer.Events[^1].Incident.Address);
        Assert.Equal(2, _observer.Events.Count(e => e.Change == IncidentChange.Described));
    }

    [Fact]
    public void Describe_AnIncidentThatClosed_IsRefused()
    {
        Run(Start, 2, 100);
        Run(Start + 2, 1, 50_000);
        var opened = Assert.Single(_observer.Opened);
        Run(Start + 3, 5, 100);
        Assert.Single(_observer.Closed);

        Assert.False(_detector.Describe(UdpFlood(opened.Id), DateTimeOffset.FromUnixTimeSeconds(Start + 9)));
        Assert.DoesNotContain(_observer.Events, e => e.Change == IncidentChange.Described);
    }

    /// <summary>Seconds of eth1's counters, each adding <paramref name="pps"/> packets.</summary>
    private void Run(long from, int seconds, ulong pps)
    {
        for (var second = from; second < from + seconds; second++)
        {
            _packets += pps;
            _aggregator.AddCounters(new InterfaceCounters
            {
                Source = CounterSource.ProcNetDev,
                Name = "eth1",
                InUnicastPackets = _packets,
                InOctets = _packets * 500,
                TimestampMilliseconds = (second * 1000) + 999,
            });
            _detector.Process(_aggregator.Tick(second, DateTimeOffset.FromUnixTimeSeconds(second + 1)));
        }
    }

    private static PacketSample UdpFlood(long incidentId)
    {
        var total = default(TrafficSample);
        total.Counts.Packets = 50_000;
        total.Counts.UdpPackets = 49_500;
        total.Counts.Bytes = 50_000 * 512;
        total.Counts.UdpBytes = 49_500 * 512;
        total.SourcePorts.Add(TrafficSample.PortKey(17, 40000), 30_000);
        total.Sources.Add(NetworkAddress.Parse("192.0.2.150"), 20_000);
        return new PacketSample(incidentId, total, [new VictimRate("203.0.113.10", 40_000), new VictimRate("203.0.113.11", 9_500)], 15_000, 0.3);
    }
}
