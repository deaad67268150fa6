using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Options;

namespace FlowCollector.Detection.Baselines;

/// <summary>
/// How keys are judged. The defaults work without tuning: five minutes of learning under static floors, then a
/// threshold of <c>max(floor, mean + Deviations·spread, MinimumRatio·mean)</c> per key and metric.
/// </summary>
public sealed class DetectionOptions
{
    /// <summary>Seconds a key learns before its learned threshold applies; until then only the learning floors do.</summary>
    [Within(0, 86_400)]
    public int LearningSeconds { get; set; } = 300;

    /// <summary>Time constant of the baseline (seconds): how quickly it follows a lasting change of level.</summary>
    [Within(10, 604_800)]
    public int BaselineSeconds { get; set; } = 120;

    /// <summary>Spreads (mean absolute deviations) above the mean that normal traffic may reach.</summary>
    [Within(0, 100, MinimumIsExclusive = true)]
    public double Deviations { get; set; } = 5;

    /// <summary>The threshold is at least this multiple of the mean, so steady traffic with no spread has room.</summary>
    [Within(1, 1000)]
    public double MinimumRatio { get; set; } = 1.5;

    /// <summary>Consecutive breaching seconds that open an incident.</summary>
    [Within(1, 60)]
    public int ConsecutiveSeconds { get; set; } = 1;

    /// <summary>An incident closes once every metric stays under threshold × Hysteresis for the cool-down.</summary>
    [Within(0, 1, MinimumIsExclusive = true)]
    public double Hysteresis { get; set; } = 0.7;

    /// <summary>
    /// Seconds of calm that close an incident. Short, because mitigation is withdrawn a grace period after the close
    /// and operators want it gone soon after a single attack; an attack that comes back reopens its incident with a
    /// doubled cool-down, so pulse waves stay one incident and keep their rules.
    /// </summary>
    [Within(1, 3600)]
    public int CooldownSeconds { get; set; } = 5;

    /// <summary>
    /// A breach this soon after an incident closed reopens it (with a doubled cool-down) instead of opening a new
    /// one: a flapping attack stays one incident.
    /// </summary>
    [Within(0, 86_400)]
    public int ReopenSeconds { get; set; } = 300;

    /// <summary>A key whose last traffic is older than this loses its baseline (memory stays bounded).</summary>
    [Within(60, 31_536_000)]
    public int ForgetSeconds { get; set; } = 86_400;

    /// <summary>Destinations a prefix must spread over before a prefix-wide breach is named carpet bombing.</summary>
    [Within(2, 1_000_000)]
    public int CarpetBombingDestinations { get; set; } = 8;

    /// <summary>
    /// Incidents open at once. A carpet bombing of a large prefix, or forged exports naming thousands of interfaces,
    /// must not make each second's work grow without bound; breaches beyond it are counted, not opened.
    /// </summary>
    [Within(1, 1_000_000)]
    public int MaxOpenIncidents { get; set; } = 10_000;

    /// <summary>Capacity of every interface in bits per second when nothing better is known (0: unknown).</summary>
    public double DefaultCapacityBps { get; set; }

    /// <summary>Floors after learning: a learned threshold never goes below these.</summary>
    public KindLimits Floors { get; set; } = KindLimits.DefaultFloors();

    /// <summary>Static thresholds while a key is still learning.</summary>
    public KindLimits LearningFloors { get; set; } = KindLimits.DefaultLearningFloors();

    /// <summary>Per interface or per prefix settings, first match wins.</summary>
    public List<DetectionOverride> Overrides { get; set; } = [];

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new DetectionOptionsValidator().Validate(null, this));
        if (!(DefaultCapacityBps >= 0))
        {
            errors.Add($"{nameof(DefaultCapacityBps)}: must be 0 (unknown) or a rate in bits per second, got {DefaultCapacityBps}");
        }

        Floors.Validate(nameof(Floors), errors);
        LearningFloors.Validate(nameof(LearningFloors), errors);
        for (var i = 0; i < Overrides.Count; i++)
        {
            Overrides[i].Validate($"{nameof(Overrides)}:{i}", errors);
        }

        return errors;
    }
}

/// <summary>The ranges declared on <see cref="DetectionOptions"/>, checked by generated code.</summary>
[OptionsValidator]
internal sealed partial class DetectionOptionsValidator : IValidateOptions<DetectionOptions>;

/// <summary>Limits per kind of key: a host, a prefix and a link carry very different normal traffic.</summary>
public sealed class KindLimits
{
    public MetricLimits Destination { get; set; } = new();

    public MetricLimits Prefix { get; set; } = new();

    public MetricLimits Interface { get; set; } = new();

    public MetricLimits Node { get; set; } = new();

    public MetricLimits For(KeyKind kind) => kind switch
    {
        KeyKind.Destination => Destination,
        KeyKind.Prefix => Prefix,
        KeyKind.Interface => Interface,
        _ => Node,
    };

    // Floors under which no traffic is called an attack, whatever was learned: FastNetMon's common per-host
    // settings (1,000 pps, 10 Mbit/s) for hosts, five times that for aggregates.
    internal static KindLimits DefaultFloors() => new()
    {
        Destination = MetricLimits.Of(1_000, 10e6, 1_000, 1_000, 300, 300, 300),
        Prefix = MetricLimits.Of(5_000, 50e6, 5_000, 5_000, 1_000, 1_000, 1_000),
        Interface = MetricLimits.Of(5_000, 50e6, 5_000, 5_000, 1_000, 1_000, 1_000),
        Node = MetricLimits.Of(5_000, 50e6, 5_000, 5_000, 1_000, 1_000, 1_000),
    };

    // While nothing is learned only a clear flood should alarm: a busy uplink may carry 100 kpps normally.
    internal static KindLimits DefaultLearningFloors() => new()
    {
        Destination = MetricLimits.Of(20_000, 200e6, 20_000, 20_000, 5_000, 5_000, 5_000),
        Prefix = MetricLimits.Of(100_000, 1e9, 50_000, 100_000, 20_000, 20_000, 20_000),
        Interface = MetricLimits.Of(200_000, 2e9, 100_000, 200_000, 20_000, 20_000, 20_000),
        Node = MetricLimits.Of(200_000, 2e9, 100_000, 200_000, 20_000, 20_000, 20_000),
    };

    internal void Validate(string key, List<string> errors)
    {
        Destination.Validate(key + ":Destination", errors);
        Prefix.Validate(key + ":Prefix", errors);
        Interface.Validate(key + ":Interface", errors);
        Node.Validate(key + ":Node", errors);
    }
}

/// <summary>
/// Settings for the interfaces or prefixes that match. <c>Interface</c> matches an interface name or ifIndex (and
/// may be narrowed by <c>Exporter</c> and <c>Direction</c>); <c>Prefix</c> matches a monitored prefix and every
/// destination inside it.
/// </summary>
public sealed class DetectionOverride
{
    public string Interface { get; set; } = string.Empty;

    public string Exporter { get; set; } = string.Empty;

    /// <summary>"in", "out" or empty for both.</summary>
    public string Direction { get; set; } = string.Empty;

    public string Prefix { get; set; } = string.Empty;

    /// <summary>Thresholds that replace the learned ones for the metrics they name.</summary>
    public MetricLimits Fixed { get; set; } = new();

    /// <summary>Floors that replace the defaults for the metrics they name.</summary>
    public MetricLimits Floors { get; set; } = new();

    /// <summary>The learned threshold is multiplied by this (e.g. 2 for a link with known bursts).</summary>
    public double Multiplier { get; set; } = 1;

    /// <summary>Learn, report thresholds, never open an incident.</summary>
    public bool LearningOnly { get; set; }

    /// <summary>The link's capacity in bits per second, for severity.</summary>
    public double CapacityBps { get; set; }

    internal IpPrefix? ParsedPrefix { get; private set; }

    internal void Validate(string key, List<string> errors)
    {
        if (Interface.Length == 0 == (Prefix.Length == 0))
        {
            errors.Add($"{key}: name either Interface or Prefix");
        }

        if (Prefix.Length > 0)
        {
            if (IpPrefix.TryParse(Prefix, out var parsed, out var error))
            {
                ParsedPrefix = parsed;
            }
            else
            {
                errors.Add($"{key}:Prefix: {error}");
            }
        }

        if (Direction is not ("" or "in" or "out"))
        {
            errors.Add($"{key}:Direction: must be in, out or empty, got '{Direction}'");
        }

        if (!(Multiplier is > 0 and <= 1000))
        {
            errors.Add($"{key}:Multiplier: must be above 0 and at most 1000, got {Multiplier}");
        }

        if (!(CapacityBps >= 0))
        {
            errors.Add($"{key}:CapacityBps: must be 0 or more, got {CapacityBps}");
        }

        Fixed.Validate(key + ":Fixed", errors);
        Floors.Validate(key + ":Floors", errors);
    }
}
