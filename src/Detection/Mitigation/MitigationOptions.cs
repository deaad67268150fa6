using FlowCollector.Decoders;

namespace FlowCollector.Detection.Mitigation;

/// <summary>
/// What the collector does about incidents. Off until configured: an appliance that starts dropping traffic on its
/// first day because of defaults would not be trusted with a router.
/// </summary>
public sealed class MitigationOptions
{
    public bool Enabled { get; set; }

    /// <summary>Plan, log and store every action, apply none.</summary>
    public bool DryRun { get; set; }

    /// <summary>Actions per severity, in escalation order: nftables (a local drop; iptables where nft is missing), flowspec, rtbh.</summary>
    public SeverityPolicy Policy { get; set; } = new();

    /// <summary>Policies for destinations inside a prefix, first match wins.</summary>
    public List<PolicyOverride> Overrides { get; set; } = [];

    /// <summary>Prefixes never acted on. The node's own addresses and the BGP next hop are added to it.</summary>
    public List<string> Allowlist { get; set; } = [];

    /// <summary>
    /// Let mitigation act on exports from any address. Off by default: UDP exports can be forged from anywhere, so
    /// mitigation requires <c>Listeners:AllowedExporters</c> unless this is set, for networks where anti-spoofing on the
    /// path guarantees that only the exporters can reach the collector's ports with their own addresses.
    /// </summary>
    public bool TrustAnyExporter { get; set; }

    /// <summary>Add every address of this machine's interfaces to the allowlist.</summary>
    public bool AllowlistLocalAddresses { get; set; } = true;

    /// <summary>RTBH only when the flood fills at least this share of the link (when the capacity is known).</summary>
    public double RtbhCapacityShare { get; set; } = 0.5;

    /// <summary>Local drop rules at once; beyond it new incidents get no rule (and say so).</summary>
    public int MaxRules { get; set; } = 100;

    /// <summary>BGP announcements (FlowSpec and RTBH together) at once.</summary>
    public int MaxAnnouncements { get; set; } = 50;

    /// <summary>An action is withdrawn after this long even if its incident is still open.</summary>
    public int MaxLifetimeSeconds { get; set; } = 3600;

    /// <summary>Actions stay this long after their incident closes, in case the attack comes straight back.</summary>
    public int WithdrawGraceSeconds { get; set; } = 10;

    /// <summary>A failed apply or withdrawal is retried after this long, up to <see cref="MaxAttempts"/> for applies (withdrawals never give up).</summary>
    public int RetrySeconds { get; set; } = 5;

    public int MaxAttempts { get; set; } = 5;

    public NftablesOptions Nftables { get; set; } = new();

    public ExaBgpOptions ExaBgp { get; set; } = new();

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Policy.Validate(nameof(Policy), errors);
        for (var i = 0; i < Overrides.Count; i++)
        {
            if (!IpPrefix.TryParse(Overrides[i].Prefix, out _, out var error))
            {
                errors.Add($"Overrides:{i}:Prefix: {error}");
            }

            Overrides[i].Policy.Validate($"Overrides:{i}:Policy", errors);
        }

        for (var i = 0; i < Allowlist.Count; i++)
        {
            if (!IpPrefix.TryParse(Allowlist[i], out _, out var error))
            {
                errors.Add($"Allowlist:{i}: {error}");
            }
        }

        if (!(RtbhCapacityShare is >= 0 and <= 1))
        {
            errors.Add($"RtbhCapacityShare: must be between 0 and 1, got {RtbhCapacityShare}");
        }

        OptionChecks.Range(errors, nameof(MaxRules), MaxRules, 0, 100_000);
        OptionChecks.Range(errors, nameof(MaxAnnouncements), MaxAnnouncements, 0, 100_000);
        OptionChecks.Range(errors, nameof(MaxLifetimeSeconds), MaxLifetimeSeconds, 10, 604_800);
        OptionChecks.Range(errors, nameof(WithdrawGraceSeconds), WithdrawGraceSeconds, 0, 86_400);
        OptionChecks.Range(errors, nameof(RetrySeconds), RetrySeconds, 1, 3_600);
        OptionChecks.Range(errors, nameof(MaxAttempts), MaxAttempts, 1, 1_000);
        if (Nftables.Backend is not ("auto" or "nft" or "iptables"))
        {
            errors.Add($"Nftables:Backend: must be auto, nft or iptables, got '{Nftables.Backend}'");
        }

        if (!IsName(Nftables.Table))
        {
            errors.Add($"Nftables:Table: letters, digits, - and _ only, got '{Nftables.Table}'");
        }

        if (Enabled && UsesBgp && ExaBgp.Socket.Length == 0)
        {
            errors.Add("ExaBgp:Socket: a policy uses flowspec or rtbh, so the socket ExaBGP's relay connects to must be set");
        }

        if (ExaBgp.NextHop.Length > 0 && !System.Net.IPAddress.TryParse(ExaBgp.NextHop, out _))
        {
            errors.Add($"ExaBgp:NextHop: '{ExaBgp.NextHop}' is not an IP address");
        }

        if (Enabled && AllKinds().Contains("rtbh") && ExaBgp.NextHop.Length == 0)
        {
            errors.Add("ExaBgp:NextHop: RTBH is in a policy, so the next hop of its routes must be set (the discard next hop your routers know)");
        }

        for (var i = 0; i < ExaBgp.Peers.Count; i++)
        {
            if (!IpPrefix.TryParse(ExaBgp.Peers[i], out _, out var error))
            {
                errors.Add($"ExaBgp:Peers:{i}: {error}");
            }
        }

        if (!(ExaBgp.FlowSpecRateLimit >= 0 && double.IsFinite(ExaBgp.FlowSpecRateLimit)))
        {
            errors.Add($"ExaBgp:FlowSpecRateLimit: bytes per second, 0 to discard, got {ExaBgp.FlowSpecRateLimit}");
        }

        OptionChecks.Range(errors, "ExaBgp:AckTimeoutMilliseconds", ExaBgp.AckTimeoutMilliseconds, 100, 60_000);
        foreach (var community in ExaBgp.EffectiveCommunities)
        {
            if (!IsCommunity(community))
            {
                errors.Add($"ExaBgp:Communities: '{community}' is not ASN:VALUE, no-export, no-advertise or blackhole");
            }
        }

        return errors;
    }

    public bool UsesBgp => AllKinds().Any(a => a is "flowspec" or "rtbh");

    /// <summary>Every action kind any policy names.</summary>
    private IEnumerable<string> AllKinds() => Policy.All().Concat(Overrides.SelectMany(o => o.Policy.All()));

    private static bool IsName(string text) => text.Length is > 0 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static bool IsCommunity(string text)
    {
        if (text is "no-export" or "no-advertise" or "blackhole")
        {
            return true;
        }

        var parts = text.Split(':');
        return parts.Length == 2 && ushort.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out _) && ushort.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out _);
    }
}

/// <summary>
/// Action kinds per severity, in the order they escalate. A severity left out keeps its default (none for low,
/// nftables for medium, plus FlowSpec for high, plus RTBH for critical); nullable because the configuration binder
/// appends to a list that already holds defaults instead of replacing it.
/// </summary>
public sealed class SeverityPolicy
{
    public static readonly string[] Kinds = ["nftables", "flowspec", "rtbh"];

    /// <summary>The action a policy's name stands for (names are validated when the options are).</summary>
    public static PolicyAction ActionOf(string name) => name switch
    {
        "flowspec" => PolicyAction.FlowSpec,
        "rtbh" => PolicyAction.Rtbh,
        _ => PolicyAction.LocalDrop,
    };

    private static readonly string[] DefaultMedium = ["nftables"];
    private static readonly string[] DefaultHigh = ["nftables", "flowspec"];
    private static readonly string[] DefaultCritical = ["nftables", "flowspec", "rtbh"];

    public List<string>? Low { get; set; }

    public List<string>? Medium { get; set; }

    public List<string>? High { get; set; }

    public List<string>? Critical { get; set; }

    public IReadOnlyList<string> For(string severity) => severity switch
    {
        "critical" => Critical ?? [.. DefaultCritical],
        "high" => High ?? [.. DefaultHigh],
        "medium" => Medium ?? [.. DefaultMedium],
        _ => Low ?? [],
    };

    public IEnumerable<string> All() => For("low").Concat(For("medium")).Concat(For("high")).Concat(For("critical"));

    internal void Validate(string key, List<string> errors)
    {
        foreach (var name in new[] { "Low", "Medium", "High", "Critical" })
        {
            foreach (var kind in For(name.ToLowerInvariant()))
            {
                if (!Kinds.Contains(kind))
                {
                    errors.Add($"{key}:{name}: '{kind}' is not an action (nftables, flowspec, rtbh)");
                }
            }
        }
    }
}

public sealed class PolicyOverride
{
    public string Prefix { get; set; } = string.Empty;

    public SeverityPolicy Policy { get; set; } = new();
}

public sealed class NftablesOptions
{
    /// <summary>"auto" uses nft when it is installed, else iptables.</summary>
    public string Backend { get; set; } = "auto";

    /// <summary>The table (inet family) that the collector owns; nothing outside it is touched.</summary>
    public string Table { get; set; } = "flowcollector";
}

public sealed class ExaBgpOptions
{
    /// <summary>Unix socket the collector listens on; ExaBGP runs <c>flowcollector exabgp-relay --socket PATH</c>, which connects to it.</summary>
    public string Socket { get; set; } = string.Empty;

    /// <summary>Next hop of RTBH routes (the address routers map to their discard route).</summary>
    public string NextHop { get; set; } = string.Empty;

    /// <summary>Communities of RTBH routes; left out: RFC 7999 BLACKHOLE kept inside the AS (65535:666, no-export).</summary>
    public List<string>? Communities { get; set; }

    public IReadOnlyList<string> EffectiveCommunities => Communities ?? ["65535:666", "no-export"];

    /// <summary>FlowSpec action: 0 discards, otherwise a rate limit in bytes per second.</summary>
    public double FlowSpecRateLimit { get; set; }

    /// <summary>Addresses of the BGP peers; never acted on.</summary>
    public List<string> Peers { get; set; } = [];

    /// <summary>How long to wait for ExaBGP to acknowledge a command.</summary>
    public int AckTimeoutMilliseconds { get; set; } = 3000;
}
