using System.Globalization;
using System.Text;
using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;

namespace FlowCollector.Detection.Mitigation;

/// <summary>
/// What an incident's traffic looks like, narrowed as far as its type allows: the victim (a host, or a monitored
/// prefix for carpet bombing), and the protocol, source port, TCP flags or fragments of the attack. The backends
/// render it in their own syntax (nftables, iptables, ExaBGP FlowSpec, an RTBH prefix), in Exporters.
/// </summary>
public sealed record MitigationRule(IpPrefix Destination, byte? Protocol = null, ushort? SourcePort = null, TcpSignature Tcp = TcpSignature.None, bool Fragments = false)
{
    public const byte Icmp = AttackSignatures.Icmp, Tcp4 = AttackSignatures.Tcp, Udp = AttackSignatures.Udp, Gre = AttackSignatures.Gre, IcmpV6 = AttackSignatures.IcmpV6;

    public bool IsIPv6 => !Destination.IsIPv4;

    public bool IsHost => Destination.Length == (IsIPv6 ? 128 : 32);

    /// <summary>A short description for logs: the destination and what of its traffic the rule matches.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Destination.ToString());
        if (Protocol is { } protocol)
        {
            text.Append(CultureInfo.InvariantCulture, $" protocol {protocol}");
        }

        if (SourcePort is { } port)
        {
            text.Append(CultureInfo.InvariantCulture, $" source port {port}");
        }

        if (Tcp != TcpSignature.None)
        {
            text.Append(CultureInfo.InvariantCulture, $" tcp {Tcp.ToString().ToLowerInvariant()}");
        }

        return Fragments ? text.Append(" fragments").ToString() : text.ToString();
    }
}
