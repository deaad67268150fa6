using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Exporters.Tests.Mitigation;

public sealed class RuleSyntaxTests
{
    private static readonly IpPrefix Victim = IpPrefix.Parse("203.0.113.10/32");

    public static TheoryData<MitigationRule, string, string, string[]> Rules => new()
    {
        { new(Victim, MitigationRule.Udp, 53), "ip daddr 203.0.113.10 udp sport 53", "match { destination 203.0.113.10/32; protocol udp; source-port =53; }", ["-d", "203.0.113.10/32", "-p", "udp", "--sport", "53"] },
        { new(Victim, MitigationRule.Udp, 11211), "ip daddr 203.0.113.10 udp sport 11211", "match { destination 203.0.113.10/32; protocol udp; source-port =11211; }", ["-d", "203.0.113.10/32", "-p", "udp", "--sport", "11211"] },
        { new(Victim, MitigationRule.Tcp4, Tcp: TcpSignature.Syn), "ip daddr 203.0.113.10 tcp flags & (syn | ack) == syn", "match { destination 203.0.113.10/32; protocol tcp; tcp-flags [ syn ]; }", ["-d", "203.0.113.10/32", "-p", "tcp", "--tcp-flags", "SYN,ACK", "SYN"] },
        { new(Victim, MitigationRule.Tcp4, Tcp: TcpSignature.Rst), "ip daddr 203.0.113.10 tcp flags & rst == rst", "match { destination 203.0.113.10/32; protocol tcp; tcp-flags [ rst ]; }", ["-d", "203.0.113.10/32", "-p", "tcp", "--tcp-flags", "RST", "RST"] },
        { new(Victim, MitigationRule.Udp), "ip daddr 203.0.113.10 meta l4proto udp", "match { destination 203.0.113.10/32; protocol udp; }", ["-d", "203.0.113.10/32", "-p", "udp"] },
        { new(Victim, MitigationRule.Icmp), "ip daddr 203.0.113.10 meta l4proto icmp", "match { destination 203.0.113.10/32; protocol icmp; }", ["-d", "203.0.113.10/32", "-p", "icmp"] },
        { new(Victim, Fragments: true), "ip daddr 203.0.113.10 ip frag-off & 0x1fff != 0", "match { destination 203.0.113.10/32; fragment [ is-fragment ]; }", ["-d", "203.0.113.10/32", "-f"] },
        { new(Victim, MitigationRule.Gre), "ip daddr 203.0.113.10 meta l4proto 47", "match { destination 203.0.113.10/32; protocol gre; }", ["-d", "203.0.113.10/32", "-p", "47"] },
        { new(Victim), "ip daddr 203.0.113.10", "match { destination 203.0.113.10/32; }", ["-d", "203.0.113.10/32"] },
        { new(IpPrefix.Parse("203.0.113.0/24"), MitigationRule.Udp, 53), "ip daddr 203.0.113.0/24 udp sport 53", "match { destination 203.0.113.0/24; protocol udp; source-port =53; }", ["-d", "203.0.113.0/24", "-p", "udp", "--sport", "53"] },
        { new(IpPrefix.Parse("2001:db8:10::53/128"), MitigationRule.Udp, 53), "ip6 daddr 2001:db8:10::53 udp sport 53", "match { destination 2001:db8:10::53/128; next-header udp; source-port =53; }", ["-d", "2001:db8:10::53/128", "-p", "udp", "--sport", "53"] },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Render_EachRule_InEveryBackendsSyntax(MitigationRule rule, string nftables, string flowSpec, string[] iptables)
    {
        Assert.Equal(nftables, rule.ToNftables());
        Assert.Equal(flowSpec, rule.ToFlowSpecMatch());
        Assert.Equal(iptables, rule.ToIptables());
    }
}
