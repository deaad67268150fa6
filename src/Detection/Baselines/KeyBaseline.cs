using System.Diagnostics.CodeAnalysis;

namespace FlowCollector.Detection.Baselines;

/// <summary>
/// The learned normal of one key: per metric an exponentially weighted mean and mean absolute deviation. Warm-up
/// averages the first samples equally, then each second weighs 1/τ, so the baseline follows a level that lasts and
/// shrugs off a second that does not.
/// </summary>
[SuppressMessage("Design", "CA1051", Justification = "Updated in place through refs every second; properties would copy the inline arrays.")]
public struct KeyBaseline
{
    public MetricValues Mean;

    public MetricValues Spread;

    /// <summary>Seconds learned from.</summary>
    public long Samples;

    public void Learn(in MetricValues values, int timeConstantSeconds)
    {
        Samples++;
        var weight = Math.Max(1.0 / Samples, 1.0 / timeConstantSeconds);
        for (var i = 0; i < MetricValues.Count; i++)
        {
            var deviation = values[i] - Mean[i];

            // The spread is measured against the mean before this second moves it.
            Spread[i] += weight * (Math.Abs(deviation) - Spread[i]);
            Mean[i] += weight * deviation;
        }
    }

    /// <summary>Seconds without traffic are seconds of zero; a long silence is learned in one step per second, capped.</summary>
    public void LearnSilence(long seconds, int timeConstantSeconds)
    {
        var zero = default(MetricValues);
        var steps = Math.Min(seconds, 3L * timeConstantSeconds);
        for (long i = 0; i < steps; i++)
        {
            Learn(zero, timeConstantSeconds);
        }
    }

    /// <summary>The learned threshold of one metric: <c>max(floor, mean + deviations·spread, ratio·mean)</c>.</summary>
    public readonly double Threshold(int metric, double floor, double deviations, double minimumRatio) =>
        Math.Max(floor, Math.Max(Mean[metric] + (deviations * Spread[metric]), minimumRatio * Mean[metric]));
}
