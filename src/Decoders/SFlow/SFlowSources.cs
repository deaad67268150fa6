namespace FlowCollector.Decoders.SFlow;

/// <summary>
/// The sample stream of each sFlow data source (sub-agent, source ID) of one agent. Under load agents drop samples
/// but keep counting the sample pool, so the packets one sample stands for are Δpool / Δsequence rather than the
/// configured rate (InMon's advice in the_router#14); that is used whenever drops were reported in between.
/// </summary>
internal sealed class SFlowSources
{
    private const int MaxSources = 4096;

    /// <summary>An effective rate above this many times the configured one is a counter glitch, not load.</summary>
    private const uint MaxRateFactor = 1000;

    private readonly Dictionary<ulong, Source> _sources = [];

    /// <summary>Records one flow sample and returns the sampling rate it stands for.</summary>
    public uint EffectiveRate(Exporters.ExporterStatistics statistics, uint subAgent, uint sourceId, uint sequence, uint rate, uint pool, uint drops)
    {
        var key = ((ulong)subAgent << 32) | sourceId;
        var effective = rate;
        if (_sources.TryGetValue(key, out var source))
        {
            var samples = sequence - source.Sequence;
            var newDrops = drops - source.Drops;
            if (samples is > 0 and < 0x8000_0000)
            {
                statistics.SamplesLost += samples - 1;
                if (newDrops is > 0 and < 0x8000_0000)
                {
                    statistics.SamplesDropped += newDrops;
                    var perSample = (pool - source.Pool) / samples;
                    if (perSample > rate && perSample <= (ulong)rate * MaxRateFactor)
                    {
                        effective = perSample;
                    }
                }
            }
        }
        else if (_sources.Count >= MaxSources)
        {
            return rate;
        }

        _sources[key] = new Source(sequence, pool, drops);
        return effective;
    }

    private readonly record struct Source(uint Sequence, uint Pool, uint Drops);
}
