using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Mitigation;

public sealed class MitigationPlannerTests
{
    private static readonly MonitoredPrefixes Monitored = new([IpPrefix.Parse("203.0.113.0/24"), IpPrefix.Parse("2001:db8:10::/48")]);

    private static IncidentRecord Incident(string attackType, string address = "203.0.113.10", string severity = "critical", string keyKind = "destination", string? vector = null, double peakBps = 1e9) => new()
    {
        Id = 7,
        Key = $"{keyKind}/{address}",
        KeyKind = TrafficKey.TryParseKind(keyKind, out var kind) ? kind : throw new ArgumentException(keyKind, nameof(keyKind)),
        Node = "edge-1",
        Address = address,
        AttackType = AttackNames.TryParse(attackType, out AttackType type) ? type : throw new ArgumentException(attackType, nameof(attackType)),
        Vector = vector is null ? null : AttackNames.TryParse(vector, out AttackType spread) ? spread : throw new ArgumentException(vector, nameof(vector)),
        Confidence = 0.95,
        Severity = AttackNames.TryParse(severity, out Severity parsed) ? parsed : throw new ArgumentException(severity, nameof(severity)),
        OpenedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
        FirstSecond = 0,
        PeakPps = 100_000,
        PeakBps = peakBps,
        CurrentPps = 100_000,
        CurrentBps = peakBps,
        Threshold = 1_000,
        ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
    };

    private static MitigationPlanner Planner(MitigationPlanOptions? options = null, params string[] allowlist) =>
        new(options ?? new MitigationPlanOptions(), Monitored, allowlist.Select(IpPrefix.Parse));

    [Theory]
    [InlineData("dns_amplification", MitigationRule.Udp, 53, TcpSignature.None, false)]
    [InlineData("ntp_amplification", MitigationRule.Udp, 123, TcpSignature.None, false)]
    [InlineData("memcached_amplification", MitigationRule.Udp, 11211, TcpSignature.None, false)]
    [InlineData("syn_flood", MitigationRule.Tcp4, null, TcpSignature.Syn, false)]
    [InlineData("tcp_rst_flood", MitigationRule.Tcp4, null, TcpSignature.Rst, false)]
    [InlineData("udp_flood", MitigationRule.Udp, null, TcpSignature.None, false)]
    [InlineData("icmp_flood", MitigationRule.Icmp, null, TcpSignature.None, false)]
    [InlineData("fragment_flood", null, null, TcpSignature.None, true)]
    [InlineData("gre_flood", MitigationRule.Gre, null, TcpSignature.None, false)]
    [InlineData("multi_vector", null, null, TcpSignature.None, false)]
    public void RuleFor_EachAttackType_IsItsNarrowestRule(string attackType, byte? protocol, int? sourcePort, TcpSignature tcp, bool fragments)
    {
        var plan = Planner().Plan(Incident(attackType));

        Assert.Null(plan.Refusal);
        Assert.Equal([PolicyAction.LocalDrop, PolicyAction.FlowSpec, PolicyAction.Rtbh], plan.Actions.Select(a => a.Kind));
        var expected = new MitigationRule(IpPrefix.Parse("203.0.113.10/32"), protocol, (ushort?)sourcePort, tcp, fragments);
        Assert.Equal(expected, plan.Actions[0].Rule);
        Assert.Equal(expected, plan.Actions[1].Rule);

        // RTBH is the whole host, whatever the attack.
        Assert.Equal(new MitigationRule(IpPrefix.Parse("203.0.113.10/32")), plan.Actions[2].Rule);
    }

    [Fact]
    public void Plan_IPv6Victim_GetsIp6RulesAndA128Blackhole()
    {
        var plan = Planner().Plan(Incident("dns_amplification", "2001:db8:10::53"));

        Assert.Equal(new MitigationRule(IpPrefix.Parse("2001:db8:10::53/128"), MitigationRule.Udp, 53), plan.Actions[0].Rule);
        Assert.True(plan.Actions[0].Rule.IsIPv6);
        Assert.Equal("2001:db8:10::53/128", plan.Actions[2].Rule.Destination.ToString());
    }

    [Fact]
    public void Plan_Severity_DecidesWhichActionsRun()
    {
        var planner = Planner();

        Assert.Empty(planner.Plan(Incident("udp_flood", severity: "low")).Actions);
        Assert.Equal([PolicyAction.LocalDrop], planner.Plan(Incident("udp_flood", severity: "medium")).Actions.Select(a => a.Kind));
        Assert.Equal([PolicyAction.LocalDrop, PolicyAction.FlowSpec], planner.Plan(Incident("udp_flood", severity: "high")).Actions.Select(a => a.Kind));
    }

    [Fact]
    public void Plan_PrefixOverride_ReplacesThePolicy()
    {
        var options = new MitigationPlanOptions();
        options.Overrides.Add(new PolicyOverride { Prefix = "203.0.113.128/25", Policy = new SeverityPolicy { Critical = ["flowspec"] } });

        Assert.Equal([PolicyAction.FlowSpec], Planner(options).Plan(Incident("udp_flood", "203.0.113.200")).Actions.Select(a => a.Kind));
        Assert.Equal(3, Planner(options).Plan(Incident("udp_flood", "203.0.113.10")).Actions.Count);
    }

    [Theory]
    [InlineData("203.0.113.10", "203.0.113.10/32")]
    [InlineData("203.0.113.10", "203.0.113.0/28")]
    [InlineData("203.0.113.0/24", "203.0.113.77")]
    public void Plan_AllowlistedAddress_GetsNothing(string victim, string allowed)
    {
        var keyKind = victim.Contains('/', StringComparison.Ordinal) ? "prefix" : "destination";
        var plan = Planner(null, allowed).Plan(Incident(keyKind == "prefix" ? "carpet_bombing" : "udp_flood", victim, keyKind: keyKind, vector: "udp_flood"));

        Assert.Empty(plan.Actions);
        Assert.Contains("allowlisted", plan.Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_OutsideMonitoredPrefixesOrNoVictim_GetsNothing()
    {
        Assert.Contains("not inside a monitored prefix", Planner().Plan(Incident("udp_flood", "198.51.100.10")).Refusal, StringComparison.Ordinal);
        Assert.Contains("names no victim", Planner().Plan(Incident("udp_flood", null!, keyKind: "interface")).Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_CarpetBombing_ActsOnThePrefixButNeverBlackholesIt()
    {
        var plan = Planner().Plan(Incident("carpet_bombing", "203.0.113.0/24", keyKind: "prefix", vector: "dns_amplification"));

        Assert.Equal([PolicyAction.LocalDrop, PolicyAction.FlowSpec], plan.Actions.Select(a => a.Kind));
        Assert.Equal(new MitigationRule(IpPrefix.Parse("203.0.113.0/24"), MitigationRule.Udp, 53), plan.Actions[0].Rule);

        // Without a signature a whole prefix is never dropped.
        Assert.Empty(Planner().Plan(Incident("carpet_bombing", "203.0.113.0/24", keyKind: "prefix", vector: "unknown")).Actions);
    }

    [Fact]
    public void Plan_RtbhOnAKnownLink_WaitsForTheFloodToFillEnoughOfIt()
    {
        var planner = Planner();

        Assert.DoesNotContain(planner.Plan(Incident("udp_flood", peakBps: 2e9), capacityBps: 10e9).Actions, a => a.Kind == PolicyAction.Rtbh);
        Assert.Contains(planner.Plan(Incident("udp_flood", peakBps: 6e9), capacityBps: 10e9).Actions, a => a.Kind == PolicyAction.Rtbh);
    }

    [Fact]
    public void Validate_BadPolicyOrPrefixes_NameTheKey()
    {
        var options = new MitigationPlanOptions
        {
            Policy = new SeverityPolicy { High = ["nftables", "blackhole-everything"] },
            Allowlist = ["203.0.113.0/40"],
            RtbhCapacityShare = 1.5,
        };
        options.Overrides.Add(new PolicyOverride { Prefix = "203.0.113.0/99", Policy = new SeverityPolicy { Low = ["drop"] } });
        var errors = options.Validate();

        Assert.Contains(errors, e => e.StartsWith("Policy:High: 'blackhole-everything'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Allowlist:0:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Overrides:0:Prefix:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Overrides:0:Policy:Low: 'drop'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("RtbhCapacityShare:", StringComparison.Ordinal));
        Assert.Empty(new MitigationPlanOptions().Validate());
    }

    [Fact]
    public void Plan_AnInterfaceWhoseSampleNamedAVictim_ActsOnTheVictim()
    {
        var incident = Incident("syn_flood", keyKind: "interface") with { Victims = [new VictimRate("203.0.113.10", 90_000)] };

        var plan = Planner().Plan(incident);

        Assert.Null(plan.Refusal);
        Assert.Equal(new MitigationRule(IpPrefix.Parse("203.0.113.10/32"), MitigationRule.Tcp4, null, TcpSignature.Syn, false), plan.Actions[0].Rule);
    }

    [Fact]
    public void Plan_AnInterfaceWithoutASample_NamesNoVictim()
    {
        var plan = Planner().Plan(Incident("unknown", keyKind: "interface"));

        Assert.Empty(plan.Actions);
        Assert.Contains("names no victim", plan.Refusal, StringComparison.Ordinal);
    }
}
