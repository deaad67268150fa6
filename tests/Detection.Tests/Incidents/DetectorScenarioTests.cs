using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using static FlowCollector.Detection.Tests.Incidents.Traffic;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>Second-by-second scenarios on a fake clock, through the real aggregator and detector.</summary>
public sealed class DetectorScenarioTests
{
    private static readonly FlowCollector.Decoders.NetworkAddress Victim = Scenario.Victim;

    public static TheoryData<string> AttackKinds() =>
    [
        "udp_flood", "syn_flood", "tcp_ack_flood", "tcp_rst_flood", "icmp_flood", "fragment_flood", "gre_flood",
        "dns_amplification", "ntp_amplification", "memcached_amplification", "ssdp_amplification", "cldap_amplification",
        "chargen_amplification", "snmp_amplification", "ws_discovery_amplification", "multi_vector", "unknown",
    ];

    [Theory]
    [MemberData(nameof(AttackKinds))]
    public void Process_EveryAttackType_OpensOneNamedIncidentInItsFirstSecond(string kind)
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        Assert.True(scenario.Observer.Opened.Count == 0, scenario.Report());

        var floodStart = scenario.Second;
        scenario.Run(20, s => Noisy(s, Victim, 300).Concat(Flood(s, kind, Victim, 20_000)));
        scenario.Run(60, s => Noisy(s, Victim, 300));

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        Assert.Equal(floodStart, incident.FirstSecond);
        Assert.Equal("203.0.113.10", incident.Address);
        var final = scenario.Observer.Latest[incident.Id];
        Assert.Equal(kind, AttackNames.Name(final.AttackType));
        Assert.InRange(final.Confidence, 0.7, 1.0);
        Assert.InRange(final.PeakPps, 20_000, 20_600);

        // Closed after the cool-down that followed the flood, not before and not much later.
        var closed = Assert.Single(scenario.Observer.Closed, c => c.Id == incident.Id);
        Assert.Equal(CloseReason.Calm, closed.CloseReason);
        var closedSecond = closed.ClosedAt!.Value.ToUnixTimeSeconds();
        Assert.InRange(closedSecond, floodStart + 20 + scenario.Options.CooldownSeconds, floodStart + 20 + scenario.Options.CooldownSeconds + 2);
    }

    [Fact]
    public void Process_Amplification_NamesTopSourcePortAndReflectors()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "ntp_amplification", Victim, 16_000)));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        var top = incident.TopSourcePorts[0];
        Assert.Equal(("udp", 123), (top.Protocol, top.Port));
        Assert.InRange(top.Pps, 15_900, 16_100);
        Assert.Contains(incident.TopSources, s => s.Address == "192.0.2.100");
        Assert.True(incident.IsOpen);
        Assert.Equal(incident.Id, Assert.Single(scenario.Detector.OpenIncidents, i => i.KeyKind == KeyKind.Destination).Id);
    }

    [Fact]
    public void Process_CarpetBombing_OpensAPrefixIncidentWithNoDestinationOne()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));

        // 64 addresses at 400 pps each: every one is under the 1,000 pps destination floor, the /24 gets 25,600 pps.
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Enumerable.Range(20, 64).SelectMany(h => Flood(s, "udp_flood", Host(h), 400))));

        Assert.True(scenario.Opened("destination").Count == 0, scenario.Report());
        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("prefix")).Id];
        Assert.Equal(AttackType.CarpetBombing, incident.AttackType);
        Assert.Equal(AttackType.UdpFlood, incident.Vector);
        Assert.Equal("203.0.113.0/24", incident.Address);
    }

    [Fact]
    public void Process_FloodOnOneDestination_IsNotAlsoAPrefixIncident()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "syn_flood", Victim, 30_000)));

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        Assert.True(scenario.Opened("prefix").Count == 0, scenario.Report());
        Assert.True(scenario.Opened("node").Count == 0, scenario.Report());

        // The link carries it in and out: those are the router's interfaces, reported as such.
        Assert.Equal(["in", "out"], scenario.Opened("interface").Select(i => i.Direction).Order());
    }

    [Fact]
    public void Process_BackupRampingOverMinutes_DoesNotAlarm()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 500));

        // Ten minutes from nothing to 80,000 full-size TCP segments a second (about 1 Gbit/s), then an hour of it.
        var rampStart = scenario.Second;
        scenario.Run(600, s => Noisy(s, Victim, 500).Append(Record(s, Victim, Tcp, 80_000.0 * (s - rampStart) / 600, 1_450, 873, Ack | Psh, "198.51.100.40")));
        scenario.Run(3600, s => Noisy(s, Victim, 500).Append(Record(s, Victim, Tcp, 80_000, 1_450, 873, Ack | Psh, "198.51.100.40")));

        Assert.True(scenario.Observer.Opened.Count == 0, scenario.Report());
    }

    [Fact]
    public void Process_SlowGrowth_IsFollowedNotFlagged()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 500));

        // The level grows eightfold over fifteen minutes: a busy evening, not an attack.
        var rampStart = scenario.Second;
        scenario.Run(900, s => Noisy(s, Victim, 500 + (3_500.0 * (s - rampStart) / 900)));
        scenario.Run(600, s => Noisy(s, Victim, 4_000));
        Assert.True(scenario.Observer.Opened.Count == 0, scenario.Report());

        // And a flood on top of the new level is still seen.
        scenario.Run(5, s => Noisy(s, Victim, 4_000).Concat(Flood(s, "udp_flood", Victim, 30_000)));
        Assert.Equal(AttackType.UdpFlood, Assert.Single(scenario.Opened("destination")).AttackType);
    }

    [Fact]
    public void Process_BurstyNormalTraffic_StaysQuiet()
    {
        var scenario = new Scenario();

        // Every fifth second or so a burst of four times the usual level, as a batch job or a CDN fill makes.
        static IEnumerable<FlowCollector.Decoders.FlowRecord> Bursty(long s) => Noisy(s, Victim, Hash(s, 77) < 0.2 ? 2_400 : 600);
        scenario.Run(2_000, Bursty);

        Assert.True(scenario.Observer.Opened.Count == 0, scenario.Report());
    }

    [Fact]
    public void Process_SingleSpike_IsNotLearnedAsNormal()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        Assert.True(scenario.Detector.TryGetThresholds(TrafficKey.ForDestination(Victim, 0), out var before));

        scenario.Run(1, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 50_000)));
        scenario.Run(1, s => Noisy(s, Victim, 300));
        Assert.True(scenario.Detector.TryGetThresholds(TrafficKey.ForDestination(Victim, 0), out var after));

        Assert.InRange(after[(int)DetectionMetric.Pps], before[(int)DetectionMetric.Pps] * 0.8, before[(int)DetectionMetric.Pps] * 1.2);
    }

    [Fact]
    public void Process_LongFlood_IsNotLearnedAndStaysOneIncident()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        scenario.Run(1_800, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 10_000)));

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        Assert.True(scenario.Observer.Latest[incident.Id].IsOpen);
        Assert.True(scenario.Detector.TryGetThresholds(TrafficKey.ForDestination(Victim, 0), out var thresholds));
        Assert.InRange(thresholds[(int)DetectionMetric.Pps], 1_000, 2_000);
    }

    [Fact]
    public void Process_SeverityRises_PublishesEscalatedOnlyWhenItRisesAboveAnyBefore()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 3_000)));
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 300_000)));
        var peak = scenario.Observer.Events.Count;
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 3_000)));
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 300_000)));

        var events = scenario.Observer.Events.Where(e => e.Incident.KeyKind == KeyKind.Destination).ToList();
        Assert.True(events.Count > 0 && events[0].Change == IncidentChange.Opened, scenario.Report());
        var escalations = events.Where(e => e.Change == IncidentChange.Escalated).Select(e => e.Incident.Severity).ToList();
        Assert.NotEmpty(escalations);
        Assert.True(escalations[0] > events[0].Incident.Severity, $"escalated to {escalations[0]} from {events[0].Incident.Severity}");
        Assert.Equal(escalations.Order().Distinct(), escalations);
        Assert.DoesNotContain(scenario.Observer.Events.Skip(peak), e => e.Change == IncidentChange.Escalated);
        Assert.All(events, e => Assert.Equal(e.Change != IncidentChange.Closed, e.HasSecond));
    }

    [Fact]
    public void Process_SeveralInterfaces_EachHasItsOwnBaseline()
    {
        var scenario = new Scenario();
        var elsewhere = FlowCollector.Decoders.NetworkAddress.Parse("192.0.2.50");

        // A busy peering link (interface 3) next to a small customer port (interface 9); nothing monitored.
        IEnumerable<FlowCollector.Decoders.FlowRecord> Both(long s) => Noisy(s, elsewhere, 150_000, input: 3).Concat(Noisy(s, elsewhere, 400, input: 9));
        scenario.Run(400, Both);
        Assert.True(scenario.Observer.Opened.Count == 0, scenario.Report());

        // 9,000 pps on the customer port is lost in the peering link's noise, but not on its own port.
        scenario.Run(5, s => Both(s).Concat(Flood(s, "udp_flood", elsewhere, 9_000, input: 9)));

        Assert.True(scenario.Opened("interface").Count == 1, scenario.Report());
        var incident = scenario.Opened("interface")[0];
        Assert.Equal("9", incident.Interface);
        Assert.Equal("in", incident.Direction);
        Assert.Equal("192.0.2.1", incident.Exporter);
        Assert.Equal("netflow", incident.Source);
    }

    [Fact]
    public void Process_DuringLearning_OnlyStaticFloorsApply()
    {
        var scenario = new Scenario();
        scenario.Run(100, s => Noisy(s, Victim, 300));

        // 8,000 pps is below the learning floor of a destination (20,000): no incident yet.
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 8_000)));
        Assert.True(scenario.Opened("destination").Count == 0, scenario.Report());

        // Far beyond it is a flood even while learning.
        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 40_000)));
        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
    }

    [Fact]
    public void Process_LearningSeconds_IsConfigurable()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 30, CooldownSeconds = 5 });
        scenario.Run(40, s => Noisy(s, Victim, 300));
        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 8_000)));

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
    }

    [Fact]
    public void Process_FixedThresholdOverride_ReplacesTheLearnedOne()
    {
        var options = new DetectionOptions { LearningSeconds = 30 };
        options.Overrides.Add(new DetectionOverride { Prefix = "203.0.113.0/28", Fixed = new MetricLimits { Pps = 100_000, UdpPps = 100_000, Bps = 1e9 } });
        var scenario = new Scenario(options);
        scenario.Run(60, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(200), 300)));

        // Both get 20,000 pps: the host under the override is allowed 100,000.
        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(200), 300)).Concat(Flood(s, "udp_flood", Victim, 20_000)).Concat(Flood(s, "udp_flood", Host(200), 20_000)));

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        Assert.Equal("203.0.113.200", incident.Address);
    }

    [Fact]
    public void Process_LearningOnlyInterface_LearnsAndNeverOpens()
    {
        var options = new DetectionOptions { LearningSeconds = 30 };
        options.Overrides.Add(new DetectionOverride { Interface = "3", LearningOnly = true });
        options.Overrides.Add(new DetectionOverride { Interface = "7", Direction = "out", LearningOnly = true });
        var scenario = new Scenario(options);
        var elsewhere = FlowCollector.Decoders.NetworkAddress.Parse("192.0.2.50");
        scenario.Run(60, s => Noisy(s, elsewhere, 2_000));
        scenario.Run(10, s => Noisy(s, elsewhere, 2_000).Concat(Flood(s, "udp_flood", elsewhere, 50_000)));

        Assert.True(scenario.Opened("interface").Count == 0, scenario.Report());
        Assert.True(scenario.Detector.TryGetThresholds(TrafficKey.ForInterface(TrafficSource.NetFlow, Scenario.Router, 3, FlowCollector.Decoders.FlowDirection.Ingress), out var thresholds));
        Assert.True(thresholds[(int)DetectionMetric.Pps] > 5_000);
    }

    [Fact]
    public void Process_MultiplierAndFloorOverride_RaiseTheBar()
    {
        var options = new DetectionOptions { LearningSeconds = 30 };
        options.Overrides.Add(new DetectionOverride { Prefix = "203.0.113.10/32", Multiplier = 4, Floors = new MetricLimits { Pps = 5_000, UdpPps = 5_000, Bps = 200e6 } });
        var scenario = new Scenario(options);
        scenario.Run(60, s => Noisy(s, Victim, 300));
        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 15_000)));
        Assert.True(scenario.Opened("destination").Count == 0, scenario.Report());

        // What stayed under the raised bar was learned as normal for this host; four times that is not.
        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 60_000)));
        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
    }

    [Fact]
    public void Process_ConsecutiveSeconds_DelaysTheOpening()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 30, ConsecutiveSeconds = 3 });
        scenario.Run(60, s => Noisy(s, Victim, 300));
        var floodStart = scenario.Second;
        scenario.Run(2, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 20_000)));
        scenario.Run(2, s => Noisy(s, Victim, 300));
        Assert.True(scenario.Opened("destination").Count == 0, scenario.Report());

        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 20_000)));
        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        Assert.Equal(floodStart + 6, incident.FirstSecond);
    }

    [Fact]
    public void Process_RateNearTheThreshold_HysteresisKeepsTheIncidentOpen()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 30, CooldownSeconds = 10 });
        scenario.Run(60, s => Noisy(s, Victim, 300));
        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 20_000)));
        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        Assert.True(scenario.Detector.TryGetThresholds(TrafficKey.ForDestination(Victim, 0), out var thresholds));

        // Just under the threshold, above threshold × 0.7: the attack is winding down, not over.
        var nearly = thresholds[(int)DetectionMetric.UdpPps] * 0.85;
        scenario.Run(40, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, nearly)));
        Assert.True(scenario.Observer.Latest[incident.Id].IsOpen);

        scenario.Run(12, s => Noisy(s, Victim, 300));
        Assert.False(scenario.Observer.Latest[incident.Id].IsOpen);
    }

    [Fact]
    public void Process_FlappingAttack_StaysOneIncident()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 30, CooldownSeconds = 10 });
        scenario.Run(60, s => Noisy(s, Victim, 300));

        // Twenty seconds on, thirty off, four times: the attacker pauses long enough for a plain cool-down to close.
        for (var round = 0; round < 4; round++)
        {
            scenario.Run(20, s => Noisy(s, Victim, 300).Concat(Flood(s, "dns_amplification", Victim, 20_000)));
            scenario.Run(30, s => Noisy(s, Victim, 300));
        }

        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
        var incident = scenario.Opened("destination")[0];
        var latest = scenario.Observer.Latest[incident.Id];
        Assert.True(latest.Reopened >= 1, $"reopened {latest.Reopened} times");
        Assert.True(scenario.Observer.Opened.Count(i => i.Id == incident.Id) == latest.Reopened + 1, "observers hear of every reopening");
        Assert.Equal(AttackType.DnsAmplification, latest.AttackType);

        // The doubled cool-downs run out in the end.
        scenario.Run(200, s => Noisy(s, Victim, 300));
        Assert.False(scenario.Observer.Latest[incident.Id].IsOpen);
        Assert.True(scenario.Opened("destination").Count == 1, scenario.Report());
    }

    [Fact]
    public void Process_RestartWithSavedState_JudgesAtOnceAndResumesTheIncident()
    {
        var first = new Scenario();
        first.Run(400, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(50), 300)));
        first.Run(5, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(50), 300)).Concat(Flood(s, "udp_flood", Victim, 20_000)).Concat(Flood(s, "udp_flood", Host(50), 20_000)));
        var open = first.Detector.OpenIncidents.Single(i => i.Address == "203.0.113.10");
        var other = first.Detector.OpenIncidents.Single(i => i.Address == "203.0.113.50");
        var state = new DetectorState { Baselines = first.Detector.SnapshotBaselines(), OpenIncidents = first.Detector.OpenIncidents, LastIncidentId = first.Detector.OpenIncidents.Max(i => i.Id) };

        // The new process starts 20 s later; the flood on one host is still on, at a rate the learning floors would
        // let pass; the other host's flood ended while the collector was down.
        var second = new Scenario(state: state, start: first.Second + 20);
        second.Run(5, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(50), 300)).Concat(Flood(s, "udp_flood", Victim, 8_000)));

        Assert.DoesNotContain(second.Observer.Opened, i => i.Id != open.Id && i.KeyKind == KeyKind.Destination);
        var resumed = Assert.Single(second.Observer.Opened, i => i.KeyKind == KeyKind.Destination);
        Assert.Equal(open.Id, resumed.Id);
        Assert.Equal(open.OpenedAt, resumed.OpenedAt);

        // Incidents of keys that stay quiet are closed as ended during the restart.
        second.Run(40, s => Noisy(s, Victim, 300).Concat(Noisy(s, Host(50), 300)));
        var ended = Assert.Single(second.Observer.Closed, c => c.Id == other.Id);
        Assert.Equal(CloseReason.Restart, ended.CloseReason);
        Assert.Equal(other.UpdatedAt, ended.ClosedAt);
        Assert.DoesNotContain(second.Observer.Closed, c => c.Id == open.Id && c.CloseReason != CloseReason.Calm);
    }

    [Fact]
    public void Process_NewDestinationAfterItsPrefixLearned_IsJudgedAgainstTheFloors()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));

        // An unused address suddenly receiving 5,000 pps: a flood, not a new normal to learn.
        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Host(99), 5_000)));
        Assert.Equal("203.0.113.99", Assert.Single(scenario.Opened("destination")).Address);
    }

    [Fact]
    public void Probe_HalfASecondOverTheThreshold_OpensBeforeTheTickWhichKeepsIt()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        var second = scenario.Second;

        // Half the second's flood is already more than the threshold allows in a whole second.
        scenario.Probe(Flood(second, "dns_amplification", Victim, 10_000));
        var early = Assert.Single(scenario.Opened("destination"));
        Assert.Equal(second, early.FirstSecond);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(second).AddMilliseconds(500), early.OpenedAt);
        Assert.Equal(AttackType.DnsAmplification, early.AttackType);

        // The tick closes the same second: the same incident goes on, no second one.
        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Flood(s, "dns_amplification", Victim, s == second ? 10_000 : 20_000)));
        Assert.Single(scenario.Opened("destination"));
        Assert.True(scenario.Observer.Latest[early.Id].IsOpen);
    }

    [Fact]
    public void Probe_UnderTheThresholdOrABackup_OpensNothing()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));

        scenario.Probe(Noisy(scenario.Second, Victim, 600));
        scenario.Probe([Record(scenario.Second, Victim, Tcp, 40_000, 1_450, 873, Ack | Psh, "198.51.100.40")]);
        Assert.Empty(scenario.Observer.Opened);

        // With more than one breaching second required, the probe leaves the decision to the ticks.
        var patient = new Scenario(new DetectionOptions { ConsecutiveSeconds = 2 });
        patient.Run(400, s => Noisy(s, Victim, 300));
        patient.Probe(Flood(patient.Second, "udp_flood", Victim, 50_000));
        Assert.Empty(patient.Observer.Opened);
    }

    [Theory]
    [InlineData(1.2, 0, 0, Severity.Low)]
    [InlineData(2.5, 0, 0, Severity.Medium)]
    [InlineData(5, 0, 0, Severity.High)]
    [InlineData(12, 0, 0, Severity.Critical)]
    [InlineData(1.2, 900e6, 1e9, Severity.Critical)]
    [InlineData(1.2, 600e6, 1e9, Severity.High)]
    [InlineData(1.2, 300e6, 1e9, Severity.Medium)]
    public void Process_Severity_FollowsTheRatioAndTheShareOfCapacity(double ratio, double bps, double capacity, Severity expected) =>
        Assert.Equal(expected, BreachJudge.SeverityOf(ratio, bps, capacity));

    [Fact]
    public void Validate_BadOptions_NameTheKey()
    {
        var options = new DetectionOptions { Hysteresis = 2, LearningSeconds = -1 };
        options.Overrides.Add(new DetectionOverride { Prefix = "203.0.113.0/33", Fixed = new MetricLimits { Pps = -5 } });
        var errors = options.Validate();

        Assert.Contains(errors, e => e.StartsWith("Hysteresis:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LearningSeconds:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Overrides:0:Prefix:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Overrides:0:Fixed:Pps:", StringComparison.Ordinal));
    }
}
