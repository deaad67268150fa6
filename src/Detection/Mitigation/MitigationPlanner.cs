using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Mitigation;

/// <summary>What a policy can ask for, named in the configuration nftables, flowspec and rtbh.</summary>
public enum PolicyAction
{
    /// <summary>A drop rule on this machine (nftables, or iptables where nft is missing).</summary>
    LocalDrop,

    FlowSpec,

    Rtbh,
}

/// <summary>One action the policy asks for.</summary>
public sealed record PlannedAction(PolicyAction Kind, MitigationRule Rule);

/// <summary>What the planner decided for an incident: actions, and why the policy's other kinds (or all) are left out.</summary>
public sealed record MitigationPlan(IReadOnlyList<PlannedAction> Actions, string? Refusal);

/// <summary>
/// Turns an incident into actions: the policy for its severity (or its prefix's override), narrowed by the safety
/// rules. Never acts on an allowlisted address, on anything outside the monitored prefixes, or on a key that names
/// no victim (node totals, and interfaces unless a packet sample named theirs); RTBH only for a single host, and
/// only when the flood fills enough of the link (where the capacity is known).
/// </summary>
public sealed class MitigationPlanner
{
    private readonly MitigationPlanOptions _options;
    private readonly MonitoredPrefixes _monitored;
    private readonly List<IpPrefix> _allowlist;
    private readonly List<(IpPrefix Prefix, SeverityPolicy Policy)> _overrides;

    public MitigationPlanner(MitigationPlanOptions options, MonitoredPrefixes monitored, IEnumerable<IpPrefix> allowlist)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _monitored = monitored ?? throw new ArgumentNullException(nameof(monitored));
        _allowlist = [.. options.Allowlist.Select(IpPrefix.Parse), .. allowlist];
        _overrides = [.. options.Overrides.Select(o => (IpPrefix.Parse(o.Prefix), o.Policy))];
    }

    public IReadOnlyList<IpPrefix> Allowlist => _allowlist;

    /// <param name="incident">The incident as it stands.</param>
    /// <param name="capacityBps">The capacity of the link it arrives on, 0 when unknown.</param>
    public MitigationPlan Plan(IncidentRecord incident, double capacityBps = 0)
    {
        ArgumentNullException.ThrowIfNull(incident);
        var namesVictim = incident.KeyKind is KeyKind.Destination or KeyKind.Prefix || (incident.KeyKind == KeyKind.Interface && incident.Victims.Count > 0);
        if (!namesVictim || incident.Address is null)
        {
            return new MitigationPlan([], $"a {TrafficKey.KindName(incident.KeyKind)} incident names no victim to act on");
        }

        if (!IpPrefix.TryParse(incident.Address, out var victim, out _))
        {
            return new MitigationPlan([], $"'{incident.Address}' is not an address");
        }

        if (!Inside(victim))
        {
            return new MitigationPlan([], $"{victim} is not inside a monitored prefix");
        }

        foreach (var allowed in _allowlist)
        {
            if (Overlaps(allowed, victim))
            {
                return new MitigationPlan([], $"{victim} overlaps the allowlisted {allowed}");
            }
        }

        var policy = _options.Policy;
        foreach (var (prefix, candidate) in _overrides)
        {
            if (prefix.Contains(victim.Network) && prefix.Length <= victim.Length)
            {
                policy = candidate;
                break;
            }
        }

        var severity = AttackNames.Name(incident.Severity);
        var kinds = policy.For(severity);
        if (kinds.Count == 0)
        {
            return new MitigationPlan([], $"the policy for {severity} incidents has no actions");
        }

        var rules = RulesFor(incident, victim);
        if (rules.Count == 0)
        {
            return new MitigationPlan([], $"{AttackNames.Name(incident.AttackType)} on a prefix has no signature narrow enough to act on");
        }

        var actions = new List<PlannedAction>();
        string? refusal = null;
        foreach (var name in kinds)
        {
            var kind = SeverityPolicy.ActionOf(name);
            if (kind == PolicyAction.Rtbh)
            {
                // A blackhole drops everything to the host, the attack's victim included: only for a single host, and
                // only when the link itself is in danger.
                if (!victim.IsHost())
                {
                    refusal = $"RTBH is for single hosts, not {victim}";
                    continue;
                }

                if (capacityBps > 0 && incident.PeakBps < _options.RtbhCapacityShare * capacityBps)
                {
                    refusal = $"RTBH waits until the flood fills {_options.RtbhCapacityShare:P0} of the link";
                    continue;
                }

                actions.Add(new PlannedAction(kind, new MitigationRule(victim)));
                continue;
            }

            foreach (var rule in rules)
            {
                actions.Add(new PlannedAction(kind, rule));
            }
        }

        return new MitigationPlan(actions, refusal);
    }

    /// <summary>The narrowest rule the attack type allows; null for a prefix without a signature.</summary>
    public static MitigationRule? RuleFor(IncidentRecord incident, IpPrefix victim)
    {
        ArgumentNullException.ThrowIfNull(incident);
        var type = incident.AttackType == AttackType.CarpetBombing ? incident.Vector ?? AttackType.Unknown : incident.AttackType;
        return SignatureRule(type, victim) ?? HostRule(victim);
    }

    /// <summary>
    /// The narrowest rules the attack allows: one per vector of a multi-vector attack (an amplification and a SYN flood
    /// are two rules, each as narrow as its own), else the one <see cref="RuleFor"/> gives. A vector without a
    /// signature makes the whole host the rule (a prefix then gets none). Empty when nothing is narrow enough.
    /// </summary>
    public static IReadOnlyList<MitigationRule> RulesFor(IncidentRecord incident, IpPrefix victim)
    {
        ArgumentNullException.ThrowIfNull(incident);
        var type = incident.AttackType == AttackType.CarpetBombing ? incident.Vector ?? AttackType.Unknown : incident.AttackType;
        if (type != AttackType.MultiVector || incident.Vectors.Count == 0)
        {
            return (SignatureRule(type, victim) ?? HostRule(victim)) is { } rule ? [rule] : [];
        }

        var rules = new List<MitigationRule>(incident.Vectors.Count);
        foreach (var vector in incident.Vectors)
        {
            if (SignatureRule(vector, victim) is not { } rule)
            {
                return HostRule(victim) is { } host ? [host] : [];
            }

            if (!rules.Contains(rule))
            {
                rules.Add(rule);
            }
        }

        return rules;
    }

    private static MitigationRule? SignatureRule(AttackType type, IpPrefix victim)
    {
        if (!AttackSignatures.TryGet(type, out var signature))
        {
            return null;
        }

        var protocol = signature.Protocol == AttackSignatures.Icmp && !victim.IsIPv4 ? AttackSignatures.IcmpV6 : signature.Protocol;
        return new MitigationRule(victim, protocol, signature.SourcePort, signature.Tcp, signature.Fragments);
    }

    /// <summary>Without a signature only a single host may be dropped whole; a whole prefix never is.</summary>
    private static MitigationRule? HostRule(IpPrefix victim) => victim.IsHost() ? new MitigationRule(victim) : null;

    private bool Inside(IpPrefix victim)
    {
        foreach (var prefix in _monitored.Prefixes)
        {
            if (prefix.Contains(victim.Network) && prefix.Length <= victim.Length)
            {
                return true;
            }
        }

        return false;
    }

    private static bool Overlaps(IpPrefix a, IpPrefix b) =>
        a.IsIPv4 == b.IsIPv4 && (a.Length <= b.Length ? a.Contains(b.Network) : b.Contains(a.Network));
}

internal static class PrefixExtensions
{
    public static bool IsHost(this IpPrefix prefix) => prefix.Length == (prefix.IsIPv4 ? 32 : 128);
}
