using FlowCollector.Decoders;

namespace FlowCollector.Detection.Mitigation;

/// <summary>
/// What the mitigation planner reads: which actions each severity asks for, where the policy differs, what is never
/// acted on and when RTBH is worth its cost. The engine's limits and the backends' settings extend it in Exporters
/// (<c>Mitigation</c> in the configuration holds both).
/// </summary>
public class MitigationPlanOptions
{
    /// <summary>Actions per severity, in escalation order: nftables (a local drop; iptables where nft is missing), flowspec, rtbh.</summary>
    public SeverityPolicy Policy { get; set; } = new();

    /// <summary>Policies for destinations inside a prefix, first match wins.</summary>
    public List<PolicyOverride> Overrides { get; set; } = [];

    /// <summary>Prefixes never acted on. The node's own addresses and the BGP next hop are added to it.</summary>
    public List<string> Allowlist { get; set; } = [];

    /// <summary>RTBH only when the flood fills at least this share of the link (when the capacity is known).</summary>
    public double RtbhCapacityShare { get; set; } = 0.5;

    /// <summary>Whether any policy asks for FlowSpec or RTBH, so that ExaBGP is needed.</summary>
    public bool UsesBgp => AllKinds().Any(a => a is "flowspec" or "rtbh");

    /// <summary>Whether any policy asks for RTBH, so that its next hop is needed.</summary>
    public bool UsesRtbh => AllKinds().Contains("rtbh");

    /// <summary>Every problem with the values, each starting with its key (relative to <c>Mitigation</c>).</summary>
    public virtual List<string> Validate()
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

        return errors;
    }

    /// <summary>Every action kind any policy names.</summary>
    private IEnumerable<string> AllKinds() => Policy.All().Concat(Overrides.SelectMany(o => o.Policy.All()));
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
