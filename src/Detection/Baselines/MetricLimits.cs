namespace FlowCollector.Detection.Baselines;

/// <summary>
/// A value per metric, as configured (floors, fixed thresholds). A metric left out (null) is not limited by this
/// set: <c>{"Pps": 5000}</c> says nothing about bits per second.
/// </summary>
public sealed class MetricLimits
{
    public double? Pps { get; set; }

    /// <summary>Bits per second.</summary>
    public double? Bps { get; set; }

    public double? Flows { get; set; }

    public double? UdpPps { get; set; }

    public double? SynPps { get; set; }

    public double? IcmpPps { get; set; }

    public double? FragmentPps { get; set; }

    public double? Get(DetectionMetric metric) => metric switch
    {
        DetectionMetric.Pps => Pps,
        DetectionMetric.Bps => Bps,
        DetectionMetric.Flows => Flows,
        DetectionMetric.UdpPps => UdpPps,
        DetectionMetric.SynPps => SynPps,
        DetectionMetric.IcmpPps => IcmpPps,
        DetectionMetric.FragmentPps => FragmentPps,
        _ => null,
    };

    /// <summary>The limits as an inline array; unset metrics take <paramref name="unset"/>.</summary>
    public MetricValues ToValues(double unset)
    {
        var values = default(MetricValues);
        for (var i = 0; i < MetricValues.Count; i++)
        {
            values[i] = Get((DetectionMetric)i) ?? unset;
        }

        return values;
    }

    internal void Validate(string key, List<string> errors)
    {
        for (var i = 0; i < MetricValues.Count; i++)
        {
            var metric = (DetectionMetric)i;
            if (Get(metric) is { } value && (double.IsNaN(value) || value < 0))
            {
                errors.Add($"{key}:{metric}: must be a rate of 0 or more, got {value}");
            }
        }
    }

    internal static MetricLimits Of(double pps, double bps, double flows, double udp, double syn, double icmp, double fragments) =>
        new() { Pps = pps, Bps = bps, Flows = flows, UdpPps = udp, SynPps = syn, IcmpPps = icmp, FragmentPps = fragments };
}
