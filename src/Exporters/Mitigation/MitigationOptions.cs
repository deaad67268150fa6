using FlowCollector.Decoders;
using FlowCollector.Detection;
using FlowCollector.Detection.Mitigation;
using Microsoft.Extensions.Options;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// What the collector does about incidents: the planner's policy, the engine's limits and timings, and the
/// backends' settings. Off until configured: an appliance that starts dropping traffic on its first day because of
/// defaults would not be trusted with a router.
/// </summary>
public sealed class MitigationOptions : MitigationPlanOptions
{
    public bool Enabled { get; set; }

    /// <summary>Plan, log and store every action, apply none.</summary>
    public bool DryRun { get; set; }

    /// <summary>
    /// Let mitigation act on exports from any address. Off by default: UDP exports can be forged from anywhere, so
    /// mitigation requires <c>Listeners:AllowedExporters</c> unless this is set, for networks where anti-spoofing on the
    /// path guarantees that only the exporters can reach the collector's ports with their own addresses.
    /// </summary>
    public bool TrustAnyExporter { get; set; }

    /// <summary>Add every address of this machine's interfaces to the allowlist.</summary>
    public bool AllowlistLocalAddresses { get; set; } = true;

    /// <summary>Local drop rules at once; beyond it new incidents get no rule (and say so).</summary>
    [Within(0, 100_000)]
    public int MaxRules { get; set; } = 100;

    /// <summary>BGP announcements (FlowSpec and RTBH together) at once.</summary>
    [Within(0, 100_000)]
    public int MaxAnnouncements { get; set; } = 50;

    /// <summary>An action is withdrawn after this long even if its incident is still open.</summary>
    [Within(10, 604_800)]
    public int MaxLifetimeSeconds { get; set; } = 3600;

    /// <summary>
    /// Actions stay this long after their incident closes, in case the attack comes straight back; doubled for each
    /// time the incident reopened (up to 8x), so that pulse waves keep their rules until the waves stop.
    /// </summary>
    [Within(0, 86_400)]
    public int WithdrawGraceSeconds { get; set; } = 6;

    /// <summary>A failed apply or withdrawal is retried after this long, up to <see cref="MaxAttempts"/> for applies (withdrawals never give up).</summary>
    [Within(1, 3_600)]
    public int RetrySeconds { get; set; } = 5;

    [Within(1, 1_000)]
    public int MaxAttempts { get; set; } = 5;

    public NftablesOptions Nftables { get; set; } = new();

    // Validated on its own (see Validate), so that its messages carry the ExaBgp: key.
#pragma warning disable SYSLIB1212
    public ExaBgpOptions ExaBgp { get; set; } = new();
#pragma warning restore SYSLIB1212

    public override List<string> Validate()
    {
        var errors = base.Validate();
        OptionRanges.AddTo(errors, new MitigationOptionsValidator().Validate(null, this));
        OptionRanges.AddTo(errors, new ExaBgpOptionsValidator().Validate(null, ExaBgp), "ExaBgp:");
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

        if (Enabled && UsesRtbh && ExaBgp.NextHop.Length == 0)
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

        foreach (var community in ExaBgp.EffectiveCommunities)
        {
            if (!IsCommunity(community))
            {
                errors.Add($"ExaBgp:Communities: '{community}' is not ASN:VALUE, no-export, no-advertise or blackhole");
            }
        }

        return errors;
    }

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
    [Within(100, 60_000)]
    public int AckTimeoutMilliseconds { get; set; } = 3000;
}

/// <summary>The ranges declared on <see cref="MitigationOptions"/>, checked by generated code.</summary>
[OptionsValidator]
internal sealed partial class MitigationOptionsValidator : IValidateOptions<MitigationOptions>;

/// <summary>The ranges declared on <see cref="ExaBgpOptions"/>, checked by generated code.</summary>
[OptionsValidator]
internal sealed partial class ExaBgpOptionsValidator : IValidateOptions<ExaBgpOptions>;
