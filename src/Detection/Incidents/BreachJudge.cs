using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// A key's second against its thresholds: which metric it exceeds most and by how much, whether it is only a bulk
/// transfer (large TCP segments of an established flow, which a backup or a download produces), and how severe a
/// breach is. Pure functions of their arguments.
/// </summary>
public static class BreachJudge
{
    /// <summary>Bulk transfer: TCP carries at least this share of the bytes ...</summary>
    public const double BulkTcpByteShare = 0.85;

    /// <summary>... in segments of at least this many bytes on average ...</summary>
    public const double BulkMinimumSegmentBytes = 800;

    /// <summary>... with SYNs at most this share of the TCP packets (a SYN flood is not a transfer).</summary>
    public const double BulkMaximumSynShare = 0.05;

    /// <summary>Over the threshold this many times, or filling this share of the link: critical.</summary>
    public const double CriticalRatio = 10, CriticalLinkShare = 0.8;

    /// <summary>High.</summary>
    public const double HighRatio = 4, HighLinkShare = 0.5;

    /// <summary>Medium; below both, low.</summary>
    public const double MediumRatio = 2, MediumLinkShare = 0.2;

    /// <summary>
    /// The verdict on one second of a key: the metric furthest over its threshold, by how much, and whether that is a
    /// breach (a key that only learns, or a bulk transfer, exceeds without breaching).
    /// </summary>
    public static BreachVerdict Judge(in TrafficSample sample, in MetricValues values, in MetricValues thresholds, bool learningOnly)
    {
        var metric = MostExceeded(values, thresholds, out var ratio);
        var breaching = metric >= 0 && !learningOnly && !IsBulkTransfer(sample, values, thresholds);
        return new BreachVerdict(metric, ratio, breaching);
    }

    /// <summary>The metric exceeded by the largest ratio (and the ratio); -1 when none is over its threshold.</summary>
    public static int MostExceeded(in MetricValues values, in MetricValues thresholds, out double ratio)
    {
        var metric = -1;
        ratio = 0;
        for (var m = 0; m < MetricValues.Count; m++)
        {
            var over = values[m] / thresholds[m];
            if (values[m] > thresholds[m] && over > ratio)
            {
                ratio = over;
                metric = m;
            }
        }

        return metric;
    }

    /// <summary>
    /// Whether the breach is a bulk TCP transfer and nothing else: large segments, few SYNs, and no per-protocol metric
    /// (UDP, SYN, ICMP, fragments) over its threshold.
    /// </summary>
    public static bool IsBulkTransfer(in TrafficSample sample, in MetricValues values, in MetricValues thresholds)
    {
        ref readonly var counts = ref sample.Counts;
        if (counts.TcpPackets <= 0
            || counts.TcpBytes < BulkTcpByteShare * counts.Bytes
            || counts.TcpBytes / counts.TcpPackets < BulkMinimumSegmentBytes
            || counts.SynPackets > BulkMaximumSynShare * counts.TcpPackets)
        {
            return false;
        }

        for (var m = (int)DetectionMetric.UdpPps; m < MetricValues.Count; m++)
        {
            if (values[m] > thresholds[m])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Severity from how far over the threshold and how much of the link the traffic fills.</summary>
    public static Severity SeverityOf(double ratio, double bps, double capacityBps)
    {
        var share = capacityBps > 0 ? bps / capacityBps : 0;
        if (ratio >= CriticalRatio || share >= CriticalLinkShare)
        {
            return Severity.Critical;
        }

        if (ratio >= HighRatio || share >= HighLinkShare)
        {
            return Severity.High;
        }

        return ratio >= MediumRatio || share >= MediumLinkShare ? Severity.Medium : Severity.Low;
    }
}

/// <summary>What <see cref="BreachJudge.Judge"/> found: <see cref="Metric"/> is -1 when no metric is over its threshold.</summary>
public readonly record struct BreachVerdict(int Metric, double Ratio, bool Breaching)
{
    /// <summary>A second not judged (an implausible interface).</summary>
    public static BreachVerdict None => new(-1, 0, false);
}
