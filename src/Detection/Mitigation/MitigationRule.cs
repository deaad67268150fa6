using System.Globalization;
using System.Text;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Mitigation;

/// <summary>TCP flag signatures a rule may match.</summary>
public enum TcpSignature
{
    None = 0,

    /// <summary>SYN without ACK: connection attempts.</summary>
    Syn,

    /// <summary>ACK alone (no SYN, FIN or RST).</summary>
    Ack,

    Rst,
}

/// <summary>
/// What an incident's traffic looks like, narrowed as far as its type allows: the victim (a host, or a monitored
/// prefix for carpet bombing), and the protocol, source port, TCP flags or fragments of the attack. One rule
/// renders as an nftables expression, iptables arguments, an ExaBGP FlowSpec match and an RTBH prefix.
/// </summary>
public sealed record MitigationRule(IpPrefix Destination, byte? Protocol = null, ushort? SourcePort = null, TcpSignature Tcp = TcpSignature.None, bool Fragments = false)
{
    public const byte Icmp = 1, Tcp4 = 6, Udp = 17, Gre = 47, IcmpV6 = 58;

    public bool IsIPv6 => !Destination.IsIPv4;

    public bool IsHost => Destination.Length == (IsIPv6 ? 128 : 32);

    /// <summary>The match of an nftables rule in an inet table.</summary>
    public string ToNftables()
    {
        var text = new StringBuilder(IsIPv6 ? "ip6 daddr " : "ip daddr ").Append(PrefixText(Destination, false));
        if (Fragments)
        {
            text.Append(IsIPv6 ? " exthdr frag exists" : " ip frag-off & 0x1fff != 0");
        }

        switch (Protocol)
        {
            case Udp when SourcePort is { } port:
                text.Append(CultureInfo.InvariantCulture, $" udp sport {port}");
                break;
            case Udp:
                text.Append(" meta l4proto udp");
                break;
            case Tcp4:
                text.Append(Tcp switch
                {
                    TcpSignature.Syn => " tcp flags & (syn | ack) == syn",
                    TcpSignature.Ack => " tcp flags & (syn | ack | fin | rst) == ack",
                    TcpSignature.Rst => " tcp flags & rst == rst",
                    _ => " meta l4proto tcp",
                });
                break;
            case Icmp or IcmpV6:
                text.Append(IsIPv6 ? " meta l4proto ipv6-icmp" : " meta l4proto icmp");
                break;
            case { } other:
                text.Append(CultureInfo.InvariantCulture, $" meta l4proto {other}");
                break;
        }

        return text.ToString();
    }

    /// <summary>The match as iptables/ip6tables arguments.</summary>
    public IReadOnlyList<string> ToIptables()
    {
        var arguments = new List<string> { "-d", PrefixText(Destination, true) };
        if (Fragments && !IsIPv6)
        {
            arguments.Add("-f");
        }

        switch (Protocol)
        {
            case Udp:
                arguments.AddRange(["-p", "udp"]);
                if (SourcePort is { } port)
                {
                    arguments.AddRange(["--sport", port.ToString(CultureInfo.InvariantCulture)]);
                }

                break;
            case Tcp4:
                arguments.AddRange(["-p", "tcp"]);
                arguments.AddRange(Tcp switch
                {
                    TcpSignature.Syn => ["--tcp-flags", "SYN,ACK", "SYN"],
                    TcpSignature.Ack => ["--tcp-flags", "SYN,ACK,FIN,RST", "ACK"],
                    TcpSignature.Rst => ["--tcp-flags", "RST", "RST"],
                    _ => [],
                });
                break;
            case Icmp or IcmpV6:
                arguments.AddRange(["-p", IsIPv6 ? "ipv6-icmp" : "icmp"]);
                break;
            case { } other:
                arguments.AddRange(["-p", other.ToString(CultureInfo.InvariantCulture)]);
                break;
        }

        return arguments;
    }

    /// <summary>The match block of an ExaBGP flow route (RFC 8955 components).</summary>
    public string ToFlowSpecMatch()
    {
        var text = new StringBuilder("match { destination ").Append(PrefixText(Destination, true)).Append(';');
        if (Protocol is { } protocol)
        {
            text.Append(IsIPv6 ? " next-header " : " protocol ").Append(protocol switch
            {
                Udp => "udp",
                Tcp4 => "tcp",
                Icmp => "icmp",
                IcmpV6 => "icmp",
                Gre => "gre",
                _ => "=" + protocol.ToString(CultureInfo.InvariantCulture),
            }).Append(';');
        }

        if (SourcePort is { } port)
        {
            text.Append(CultureInfo.InvariantCulture, $" source-port ={port};");
        }

        text.Append(Tcp switch
        {
            TcpSignature.Syn => " tcp-flags [ syn ];",
            TcpSignature.Rst => " tcp-flags [ rst ];",
            TcpSignature.Ack => " tcp-flags [ ack ];",
            _ => string.Empty,
        });
        if (Fragments)
        {
            text.Append(" fragment [ is-fragment ];");
        }

        return text.Append(" }").ToString();
    }

    /// <summary>A short description for logs and the <c>rule</c> column.</summary>
    public override string ToString() => ToNftables();

    private static string PrefixText(IpPrefix prefix, bool withLength)
    {
        var address = prefix.Network.ToString();
        return withLength || prefix.Length != (prefix.IsIPv4 ? 32 : 128) ? $"{address}/{prefix.Length.ToString(CultureInfo.InvariantCulture)}" : address;
    }
}
