using System.Runtime.CompilerServices;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Baselines;

/// <summary>The rates every key is judged on, each with its own baseline and threshold.</summary>
public enum DetectionMetric
{
    Pps = 0,
    Bps = 1,
    Flows = 2,
    UdpPps = 3,
    SynPps = 4,
    IcmpPps = 5,
    FragmentPps = 6,
}

/// <summary>One value per <see cref="DetectionMetric"/>, stored inline so per-key state holds no arrays.</summary>
[InlineArray(Count)]
public struct MetricValues
{
    public const int Count = 7;

    private double _first;

    public static MetricValues From(in TrafficCounts counts)
    {
        var values = default(MetricValues);
        values[(int)DetectionMetric.Pps] = counts.Packets;
        values[(int)DetectionMetric.Bps] = counts.Bytes * 8;
        values[(int)DetectionMetric.Flows] = counts.Flows;
        values[(int)DetectionMetric.UdpPps] = counts.UdpPackets;
        values[(int)DetectionMetric.SynPps] = counts.SynPackets;
        values[(int)DetectionMetric.IcmpPps] = counts.IcmpPackets;
        values[(int)DetectionMetric.FragmentPps] = counts.FragmentPackets;
        return values;
    }

    /// <summary>The metric a name stands for (as stored and served); false for a name no metric has.</summary>
    public static bool TryParse(string? name, out DetectionMetric metric) => EnumNames.TryParse(name, Name, out metric);

    public static string Name(DetectionMetric metric) => metric switch
    {
        DetectionMetric.Pps => "pps",
        DetectionMetric.Bps => "bps",
        DetectionMetric.Flows => "flows",
        DetectionMetric.UdpPps => "udp_pps",
        DetectionMetric.SynPps => "syn_pps",
        DetectionMetric.IcmpPps => "icmp_pps",
        DetectionMetric.FragmentPps => "fragment_pps",
        _ => "unknown",
    };
}
