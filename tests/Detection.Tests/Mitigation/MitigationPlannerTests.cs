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
        KeyKind = keyKind,
        Node = "edge-1",
        Address = address,
        AttackType = attackType,
        Vector = vector,
        Confidence = 0.95,
        Severity = severity,
        OpenedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
        FirstSecond = 0,
        PeakPps = 100_000,
        PeakBps = peakBps,
        CurrentPps = 100_000,
        CurrentBps = peakBps,
        Threshold = 1_000,
        ThresholdMetric = "pps",
    };

    private static MitigationPlanner Planner(MitigationOptions? options = null, params string[] allowlist) =>
        new(options ?? new MitigationOptions { Enabled = true }, Monitored, allowlist.Select(IpPrefix.Parse));

    [Theory]
    [InlineData("dns_amplification", "ip daddr 203.0.113.10 udp sport 53", "match { destination 203.0.113.10/32; protocol udp; source-port =53; }")]
    [InlineData("ntp_amplification", "ip daddr 203.0.113.10 udp sport 123", "match { destination 203.0.113.10/32; protocol udp; source-port =123; }")]
    [InlineData("memcached_amplification", "ip daddr 203.0.113.10 udp sport 11211", "match { destination 203.0.113.10/32; protocol udp; source-port =11211; }")]
    [InlineData("syn_flood", "ip daddr 203.0.113.10 tcp flags & (syn | ack) == syn", "match { destination 203.0.113.10/32; protocol tcp; tcp-flags [ syn ]; }")]
    [InlineData("tcp_rst_flood", "ip daddr 203.0.113.10 tcp flags & rst == rst", "match { destination 203.0.113.10/32; protocol tcp; tcp-flags [ rst ]; }")]
    [InlineData("udp_flood", "ip daddr 203.0.113.10 meta l4proto udp", "match { destination 203.0.113.10/32; protocol udp; }")]
    [InlineData("icmp_flood", "ip daddr 203.0.113.10 meta l4proto icmp", "match { destination 203.0.113.10/32; protocol icmp; }")]
    [InlineData("fragment_flood", "ip daddr 203.0.113.10 ip frag-off & 0x1fff != 0", "match { destination 203.0.113.10/32; fragment [ is-fragment ]; }")]
    [InlineData("gre_flood", "ip daddr 203.0.113.10 meta l4proto 47", "match { destination 203.0.113.10/32; protocol gre; }")]
    [InlineData("multi_vector", "ip daddr 203.0.113.10", "match { destination 203.0.113.10/32; }")]
    public void RuleFor_EachAttackType_IsItsNarrowestRule(string attackType, string nftables, string flowSpec)
    {
        var plan = Planner().Plan(Incident(attackType));

        Assert.Null(plan.Refusal);
        Assert.Equal([PolicyAction.LocalDrop, PolicyAction.FlowSpec, PolicyAction.Rtbh], plan.Actions.Select(a => a.Kind));
        Assert.Equal(nftables, plan.Actions[0].Rule.ToNftables());
        Assert.Equal(flowSpec, plan.Actions[1].Rule.ToFlowSpecMatch());

        // RTBH is the whole host, whatever the attack.
        Assert.Equal("203.0.113.10/32", plan.Actions[2].Rule.Destination.ToString());
        Assert.Null(plan.Actions[2].Rule.Protocol);
    }

    [Fact]
    public void Plan_IPv6Victim_GetsIp6RulesAndA128Blackhole()
    {
        var plan = Planner().Plan(Incident("dns_amplification", "2001:db8:10::53"));

        Assert.Equal("ip6 daddr 2001:db8:10::53 udp sport 53", plan.Actions[0].Rule.ToNftables());
        Assert.Equal("match { destination 2001:db8:10::53/128; next-header udp; source-port =53; }", plan.Actions[1].Rule.ToFlowSpecMatch());
        Assert.Equal(["-d", "2001:db8:10::53/128", "-p", "udp", "--sport", "53"], plan.Actions[0].Rule.ToIptables());
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
        var options = new MitigationOptions { Enabled = true };
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
        Assert.Equal("ip daddr 203.0.113.0/24 udp sport 53", plan.Actions[0].Rule.ToNftables());

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
    public void Validate_BadOptions_NameTheKey()
    {
        var options = new MitigationOptions
        {
            Enabled = true,
            Policy = new SeverityPolicy { High = ["nftables", "blackhole-everything"] },
            Allowlist = ["203.0.113.0/40"],
            ExaBgp = new ExaBgpOptions { Communities = ["65535:666", "nonsense"] },
            Nftables = new NftablesOptions { Table = "bad table" },
        };
        var errors = options.Validate();

        Assert.Contains(errors, e => e.StartsWith("Policy:High: 'blackhole-everything'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Allowlist:0:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:Communities: 'nonsense'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Nftables:Table:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:Socket:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:NextHop:", StringComparison.Ordinal));
    }
}
