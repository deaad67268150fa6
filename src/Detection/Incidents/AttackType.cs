namespace FlowCollector.Detection.Incidents;

/// <summary>What the classifier calls an attack.</summary>
public enum AttackType
{
    Unknown = 0,
    UdpFlood,
    SynFlood,
    TcpAckFlood,
    TcpRstFlood,
    IcmpFlood,
    FragmentFlood,
    DnsAmplification,
    NtpAmplification,
    MemcachedAmplification,
    SsdpAmplification,
    CldapAmplification,
    ChargenAmplification,
    SnmpAmplification,
    WsDiscoveryAmplification,
    GreFlood,
    CarpetBombing,
    MultiVector,
}

public enum Severity
{
    Low = 0,
    Medium = 1,
    High = 2,
    Critical = 3,
}

public static class AttackNames
{
    public static string Name(AttackType type) => type switch
    {
        AttackType.UdpFlood => "udp_flood",
        AttackType.SynFlood => "syn_flood",
        AttackType.TcpAckFlood => "tcp_ack_flood",
        AttackType.TcpRstFlood => "tcp_rst_flood",
        AttackType.IcmpFlood => "icmp_flood",
        AttackType.FragmentFlood => "fragment_flood",
        AttackType.DnsAmplification => "dns_amplification",
        AttackType.NtpAmplification => "ntp_amplification",
        AttackType.MemcachedAmplification => "memcached_amplification",
        AttackType.SsdpAmplification => "ssdp_amplification",
        AttackType.CldapAmplification => "cldap_amplification",
        AttackType.ChargenAmplification => "chargen_amplification",
        AttackType.SnmpAmplification => "snmp_amplification",
        AttackType.WsDiscoveryAmplification => "ws_discovery_amplification",
        AttackType.GreFlood => "gre_flood",
        AttackType.CarpetBombing => "carpet_bombing",
        AttackType.MultiVector => "multi_vector",
        _ => "unknown",
    };

    public static IReadOnlyList<AttackType> All { get; } = Enum.GetValues<AttackType>();

    /// <summary>The severity a name stands for (as stored and served); false for a name no severity has.</summary>
    public static bool TryParse(string? name, out Severity severity) => EnumNames.TryParse(name, Name, out severity);

    /// <summary>The type a name stands for (as stored and served); false for a name no type has.</summary>
    public static bool TryParse(string? name, out AttackType type) => EnumNames.TryParse(name, Name, out type);

    public static string Name(Severity severity) => severity switch
    {
        Severity.Medium => "medium",
        Severity.High => "high",
        Severity.Critical => "critical",
        _ => "low",
    };
}
