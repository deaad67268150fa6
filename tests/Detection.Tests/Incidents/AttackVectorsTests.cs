using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Detection.Rates;
using static FlowCollector.Detection.Tests.Incidents.Traffic;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>
/// What exporters make of fragmented reflection, attacks with two vectors, carpet bombing within the second and
/// pulse waves, through the real aggregator and detector on a fake clock.
/// </summary>
public sealed class AttackVectorsTests
{
    private static readonly NetworkAddress Victim = Scenario.Victim;

    /// <summary>
    /// Reflected answers of <paramref name="packetsPerAnswer"/> packets each: the first from the reflection port, the
    /// rest as the exporter reports non-first fragments (UDP, both ports 0), flagged as fragments or not.
    /// </summary>
    private static IEnumerable<FlowRecord> FragmentedReflection(long second, ushort port, double answers, int packetsPerAnswer, bool flagged)
    {
        for (var i = 0; i < 8; i++)
        {
            var source = $"192.0.2.{100 + i}";
            var first = Record(second, Victim, Udp, answers / 8, 1500, port, source: source, fragment: flagged);
            yield return first with { DestinationPort = (ushort)(20_000 + i) };
            yield return Record(second, Victim, Udp, answers / 8 * (packetsPerAnswer - 1), 1500, source: source, fragment: flagged) with { DestinationPort = 0 };
        }
    }

    private static Scenario Learned()
    {
        var scenario = new Scenario();
        scenario.Run(400, s => Noisy(s, Victim, 300));
        return scenario;
    }

    [Theory]
    [InlineData((ushort)53, 3, false, AttackType.DnsAmplification)]
    [InlineData((ushort)53, 3, true, AttackType.DnsAmplification)]
    [InlineData((ushort)123, 2, false, AttackType.NtpAmplification)]
    [InlineData((ushort)11211, 8, false, AttackType.MemcachedAmplification)]
    [InlineData((ushort)11211, 30, true, AttackType.MemcachedAmplification)]
    [InlineData((ushort)389, 3, false, AttackType.CldapAmplification)]
    [InlineData((ushort)19, 2, false, AttackType.ChargenAmplification)]
    public void Process_FragmentedReflection_IsNamedByItsFirstFragments(ushort port, int packetsPerAnswer, bool flagged, AttackType expected)
    {
        var scenario = Learned();

        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(FragmentedReflection(s, port, 6_000, packetsPerAnswer, flagged)));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        Assert.Equal(expected, incident.AttackType);
        Assert.Empty(incident.Vectors);
        Assert.InRange(incident.Confidence, 0.9, 1);

        // Fragments have no port of their own: the answers' port is the one named, and no "port 0".
        Assert.Equal(port, incident.TopSourcePorts[0].Port);
        Assert.DoesNotContain(incident.TopSourcePorts, p => p.Port == 0);
    }

    [Fact]
    public void Process_FragmentsWithoutReflection_AreAFragmentFlood()
    {
        var scenario = Learned();

        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Enumerable.Range(0, 8).Select(i =>
            Record(s, Victim, Udp, 2_000, 1480, source: $"192.0.2.{150 + i}") with { DestinationPort = 0 })));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        Assert.Equal(AttackType.FragmentFlood, incident.AttackType);
    }

    [Fact]
    public void Process_AmplificationAndSynFloodAtOnce_IsMultiVectorNamingBoth()
    {
        var scenario = Learned();

        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "dns_amplification", Victim, 12_000)).Concat(Flood(s, "syn_flood", Victim, 8_000)));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        Assert.Equal(AttackType.MultiVector, incident.AttackType);
        Assert.Equal([AttackType.DnsAmplification, AttackType.SynFlood], incident.Vectors);

        // One rule per vector, each as narrow as its own signature.
        var rules = MitigationPlanner.RulesFor(incident, IpPrefix.Parse("203.0.113.10/32"));
        Assert.Equal(
            [new MitigationRule(IpPrefix.Parse("203.0.113.10/32"), 17, 53), new MitigationRule(IpPrefix.Parse("203.0.113.10/32"), 6, null, TcpSignature.Syn)],
            rules);
    }

    [Fact]
    public void Process_AmplificationWithFragmentsAndSynFlood_FoldsTheFragmentsIntoTheAmplification()
    {
        var scenario = Learned();

        scenario.Run(5, s => Noisy(s, Victim, 300).Concat(FragmentedReflection(s, 53, 3_000, 3, flagged: false)).Concat(Flood(s, "syn_flood", Victim, 8_000)));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        Assert.Equal(AttackType.MultiVector, incident.AttackType);
        Assert.Equal([AttackType.DnsAmplification, AttackType.SynFlood], incident.Vectors);
    }

    [Fact]
    public void Probe_CarpetBombing_OpensThePrefixWithinTheSecond()
    {
        var scenario = Learned();
        var second = scenario.Second;

        // Half a second of 64 addresses at 400 pps each: none is over its floor, the /24 is far over its own.
        scenario.Probe(Noisy(second, Victim, 150).Concat(Enumerable.Range(20, 64).SelectMany(h => Flood(second, "udp_flood", Host(h), 200))));

        var incident = Assert.Single(scenario.Opened("prefix"));
        Assert.Equal(AttackType.CarpetBombing, incident.AttackType);
        Assert.Equal(AttackType.UdpFlood, incident.Vector);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(second).AddMilliseconds(500), incident.OpenedAt);
        Assert.Empty(scenario.Opened("destination"));

        // The tick of the same second goes on with it.
        scenario.Run(3, s => Noisy(s, Victim, 300).Concat(Enumerable.Range(20, 64).SelectMany(h => Flood(s, "udp_flood", Host(h), 400))));
        Assert.Single(scenario.Opened("prefix"));
        Assert.True(scenario.Observer.Latest[incident.Id].IsOpen);
        Assert.Empty(scenario.Opened("destination"));
    }

    [Fact]
    public void Probe_FloodOnANewAddress_OpensTheDestinationNotThePrefix()
    {
        var scenario = Learned();
        var second = scenario.Second;

        // An address never seen before, in a prefix that has learned: judged against the floors within the second.
        scenario.Probe(Noisy(second, Victim, 150).Concat(Flood(second, "syn_flood", Host(77), 10_000)));

        var incident = Assert.Single(scenario.Opened("destination"));
        Assert.Equal("203.0.113.77", incident.Address);
        Assert.Empty(scenario.Opened("prefix"));
    }

    [Fact]
    public void Process_PulseWaves_OneIncidentThatReopensAndCatchesEveryPulse()
    {
        var scenario = Learned();

        // Five seconds on, ten off, six times, with the embedded defaults.
        var pulses = new List<long>();
        for (var pulse = 0; pulse < 6; pulse++)
        {
            pulses.Add(scenario.Second);
            scenario.Run(5, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 20_000)));
            scenario.Run(10, s => Noisy(s, Victim, 300));
        }

        var incident = Assert.Single(scenario.Opened("destination"));
        Assert.True(scenario.Observer.Latest[incident.Id].Reopened >= 1, scenario.Report());
        foreach (var start in pulses)
        {
            Assert.Contains(scenario.Observer.Events, e => e.HasSecond && e.Second.IncidentId == incident.Id && e.Second.Second == start && e.Second.Breaching);
        }

        // Each reopening doubled the cool-down, so the gaps stopped closing it; after the waves it closes.
        Assert.True(scenario.Observer.Latest[incident.Id].IsOpen, scenario.Report());
        scenario.Run(60, s => Noisy(s, Victim, 300));
        Assert.False(scenario.Observer.Latest[incident.Id].IsOpen);
        Assert.Single(scenario.Opened("destination"));
    }

    [Fact]
    public void Process_SingleAttackWithDefaults_ClosesFiveCalmSecondsAfterItEnds()
    {
        var scenario = Learned();
        scenario.Run(10, s => Noisy(s, Victim, 300).Concat(Flood(s, "udp_flood", Victim, 20_000)));
        var end = scenario.Second;

        scenario.Run(10, s => Noisy(s, Victim, 300));

        var closed = Assert.Single(scenario.Observer.Closed, i => i.KeyKind == KeyKind.Destination);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(end + new DetectionOptions().CooldownSeconds), closed.ClosedAt);
    }
}
