using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// Turns what a key has learned into its thresholds: the static floors while it learns (none for a metric without
/// one), then max(floor, mean + k·spread, ratio·mean), with the operator's overrides (a fixed threshold, other floors,
/// a multiplier) for the interfaces, destinations and prefixes they name.
/// </summary>
internal sealed class ThresholdPolicy
{
    private readonly DetectionOptions _options;
    private readonly MonitoredPrefixes _prefixes;
    private readonly MetricValues[] _learningFloors = new MetricValues[4];
    private readonly MetricValues[] _floors = new MetricValues[4];

    public ThresholdPolicy(DetectionOptions options, MonitoredPrefixes prefixes)
    {
        _options = options;
        _prefixes = prefixes;
        foreach (var kind in (ReadOnlySpan<KeyKind>)[KeyKind.Node, KeyKind.Interface, KeyKind.Destination, KeyKind.Prefix])
        {
            _learningFloors[(int)kind] = options.LearningFloors.For(kind).ToValues(double.PositiveInfinity);
            _floors[(int)kind] = options.Floors.For(kind).ToValues(0);
        }
    }

    /// <summary>The thresholds of a key of this kind, learned or still learning, under its override.</summary>
    public void Apply(KeyKind kind, bool learned, DetectionOverride? overrides, in KeyBaseline baseline, ref MetricValues thresholds)
    {
        ref readonly var floors = ref (learned ? ref _floors[(int)kind] : ref _learningFloors[(int)kind]);
        var multiplier = overrides?.Multiplier ?? 1;
        for (var m = 0; m < MetricValues.Count; m++)
        {
            var metric = (DetectionMetric)m;
            if (overrides?.Fixed.Get(metric) is { } fixedThreshold)
            {
                thresholds[m] = fixedThreshold;
                continue;
            }

            var floor = (learned ? overrides?.Floors.Get(metric) : null) ?? floors[m];
            thresholds[m] = learned
                ? multiplier * baseline.Threshold(m, floor, _options.Deviations, _options.MinimumRatio)
                : multiplier * floor;
        }
    }

    /// <summary>The first override that names the key (an interface by name, a destination or prefix inside its prefix).</summary>
    public DetectionOverride? OverrideFor(in TrafficKey key, KeyDescription description)
    {
        foreach (var candidate in _options.Overrides)
        {
            switch (key.Kind)
            {
                case KeyKind.Interface when candidate.Interface.Length > 0:
                    if (candidate.Interface == description.Interface
                        && (candidate.Exporter.Length == 0 || candidate.Exporter == description.Exporter)
                        && (candidate.Direction.Length == 0 || candidate.Direction == description.Direction))
                    {
                        return candidate;
                    }

                    break;
                case KeyKind.Destination when candidate.ParsedPrefix is { } prefix:
                    if (prefix.Contains(key.Address))
                    {
                        return candidate;
                    }

                    break;
                case KeyKind.Prefix when candidate.ParsedPrefix is { } prefix:
                    if (key.Prefix >= 0 && key.Prefix < _prefixes.Count && prefix.Contains(_prefixes.Prefixes[key.Prefix].Network) && prefix.Length <= _prefixes.Prefixes[key.Prefix].Length)
                    {
                        return candidate;
                    }

                    break;
            }
        }

        return null;
    }
}
