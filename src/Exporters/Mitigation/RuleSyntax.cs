using System.Globalization;
using System.Text;
using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>A rule in the syntax of each backend: an nftables match, iptables arguments, an ExaBGP FlowSpec match.</summary>
public static class RuleSyntax
{
    /// <summary>The match of an nftables rule in an inet table.</summary>
    public static string ToNftables(this MitigationRule rule)
    {
        var text = new StringBuilder(rule.IsIPv6 ? "ip6 daddr " : "ip daddr ").Append(PrefixText(rule.Destination, false));
        if (rule.Fragments)
        {
            text.Append(rule.IsIPv6 ? " exthdr frag exists" : " ip frag-off & 0x1fff != 0");
        }

        switch (rule.Protocol)
        {
            case MitigationRule.Udp when rule.SourcePort is { } port:
                text.Append(CultureInfo.InvariantCulture, $" udp sport {port}");
                break;
            case MitigationRule.Udp:
                text.Append(" meta l4proto udp");
                break;
            case MitigationRule.Tcp4:
                text.Append(rule.Tcp switch
                {
                    TcpSignature.Syn => " tcp flags & (syn | ack) == syn",
                    TcpSignature.Ack => " tcp flags & (syn | ack | fin | rst) == ack",
                    TcpSignature.Rst => " tcp flags & rst == rst",
                    _ => " meta l4proto tcp",
                });
                break;
            case MitigationRule.Icmp or MitigationRule.IcmpV6:
                text.Append(rule.IsIPv6 ? " meta l4proto ipv6-icmp" : " meta l4proto icmp");
                break;
            case { } other:
                text.Append(CultureInfo.InvariantCulture, $" meta l4proto {other}");
                break;
        }

        return text.ToString();
    }

    /// <summary>The match as iptables/ip6tables arguments.</summary>
    public static IReadOnlyList<string> ToIptables(this MitigationRule rule)
    {
        var arguments = new List<string> { "-d", PrefixText(rule.Destination, true) };
        if (rule.Fragments && !rule.IsIPv6)
        {
            arguments.Add("-f");
        }

        switch (rule.Protocol)
        {
            case MitigationRule.Udp:
                arguments.AddRange(["-p", "udp"]);
                if (rule.SourcePort is { } port)
                {
                    arguments.AddRange(["--sport", port.ToString(CultureInfo.InvariantCulture)]);
                }

                break;
            case MitigationRule.Tcp4:
                arguments.AddRange(["-p", "tcp"]);
                arguments.AddRange(rule.Tcp switch
                {
                    TcpSignature.Syn => ["--tcp-flags", "SYN,ACK", "SYN"],
                    TcpSignature.Ack => ["--tcp-flags", "SYN,ACK,FIN,RST", "ACK"],
                    TcpSignature.Rst => ["--tcp-flags", "RST", "RST"],
                    _ => [],
                });
                break;
            case MitigationRule.Icmp or MitigationRule.IcmpV6:
                arguments.AddRange(["-p", rule.IsIPv6 ? "ipv6-icmp" : "icmp"]);
                break;
            case { } other:
                arguments.AddRange(["-p", other.ToString(CultureInfo.InvariantCulture)]);
                break;
        }

        return arguments;
    }

    /// <summary>The match block of an ExaBGP flow route (RFC 8955 components).</summary>
    public static string ToFlowSpecMatch(this MitigationRule rule)
    {
        var text = new StringBuilder("match { destination ").Append(PrefixText(rule.Destination, true)).Append(';');
        if (rule.Protocol is { } protocol)
        {
            text.Append(rule.IsIPv6 ? " next-header " : " protocol ").Append(protocol switch
            {
                MitigationRule.Udp => "udp",
                MitigationRule.Tcp4 => "tcp",
                MitigationRule.Icmp => "icmp",
                MitigationRule.IcmpV6 => "icmp",
                MitigationRule.Gre => "gre",
                _ => "=" + protocol.ToString(CultureInfo.InvariantCulture),
            }).Append(';');
        }

        if (rule.SourcePort is { } port)
        {
            text.Append(CultureInfo.InvariantCulture, $" source-port ={port};");
        }

        text.Append(rule.Tcp switch
        {
            TcpSignature.Syn => " tcp-flags [ syn ];",
            TcpSignature.Rst => " tcp-flags [ rst ];",
            TcpSignature.Ack => " tcp-flags [ ack ];",
            _ => string.Empty,
        });
        if (rule.Fragments)
        {
            text.Append(" fragment [ is-fragment ];");
        }

        return text.Append(" }").ToString();
    }

    private static string PrefixText(IpPrefix prefix, bool withLength)
    {
        var address = prefix.Network.ToString();
        return withLength || prefix.Length != (prefix.IsIPv4 ? 32 : 128) ? $"{address}/{prefix.Length.ToString(CultureInfo.InvariantCulture)}" : address;
    }
}
