namespace FlowCollector.Detection.Incidents;

/// <summary>TCP flag signatures an attack (and a rule against it) is known by.</summary>
public enum TcpSignature
{
    None = 0,

    /// <summary>SYN without ACK: connection attempts.</summary>
    Syn,

    /// <summary>ACK alone (no SYN, FIN or RST).</summary>
    Ack,

    Rst,
}

/// <summary>What an attack type looks like on the wire: its protocol, the UDP source port it comes from, its TCP flags, or fragments.</summary>
public readonly record struct AttackSignature(AttackType Type, byte? Protocol, ushort? SourcePort = null, TcpSignature Tcp = TcpSignature.None, bool Fragments = false);

/// <summary>
/// The one table of attack signatures: the classifier names a reflection attack by its source port from here, and the
/// mitigation planner builds the narrowest rule for an attack type from the same row. ICMP's protocol is IPv4's; a
/// rule for an IPv6 victim uses ICMPv6.
/// </summary>
public static class AttackSignatures
{
    public const byte Icmp = 1, Tcp = 6, Udp = 17, Gre = 47, IcmpV6 = 58;

    private static readonly AttackSignature[] Table =
    [
        new(AttackType.UdpFlood, Udp),
        new(AttackType.SynFlood, Tcp, Tcp: TcpSignature.Syn),
        new(AttackType.TcpAckFlood, Tcp, Tcp: TcpSignature.Ack),
        new(AttackType.TcpRstFlood, Tcp, Tcp: TcpSignature.Rst),
        new(AttackType.IcmpFlood, Icmp),
        new(AttackType.FragmentFlood, null, Fragments: true),
        new(AttackType.GreFlood, Gre),
        new(AttackType.DnsAmplification, Udp, 53),
        new(AttackType.NtpAmplification, Udp, 123),
        new(AttackType.MemcachedAmplification, Udp, 11211),
        new(AttackType.SsdpAmplification, Udp, 1900),
        new(AttackType.CldapAmplification, Udp, 389),
        new(AttackType.ChargenAmplification, Udp, 19),
        new(AttackType.SnmpAmplification, Udp, 161),
        new(AttackType.WsDiscoveryAmplification, Udp, 3702),
    ];

    /// <summary>The signature of an attack type; false for types that have none (unknown, multi-vector, carpet bombing).</summary>
    public static bool TryGet(AttackType type, out AttackSignature signature)
    {
        foreach (var row in Table)
        {
            if (row.Type == type)
            {
                signature = row;
                return true;
            }
        }

        signature = default;
        return false;
    }

    /// <summary>The reflection attack a UDP source port identifies, or <see cref="AttackType.Unknown"/>.</summary>
    public static AttackType Amplification(ushort sourcePort)
    {
        foreach (var row in Table)
        {
            if (row.SourcePort == sourcePort)
            {
                return row.Type;
            }
        }

        return AttackType.Unknown;
    }
}
