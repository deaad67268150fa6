namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// Sampling rates an exporter announced in options data, keyed by (observation domain, sampler ID) as
/// nfdump, pmacct and akvorado do; sampler 0 holds a rate announced without a sampler ID.
/// </summary>
internal sealed class SamplingTable
{
    private const int MaxEntries = 1024;
    private readonly Dictionary<ulong, uint> _byDomainAndSampler = [];
    private readonly Dictionary<uint, uint> _bySampler = [];

    public int Count => _byDomainAndSampler.Count;

    public void Set(uint domain, uint samplerId, uint rate)
    {
        if (rate == 0)
        {
            return;
        }

        var key = Key(domain, samplerId);
        if (_byDomainAndSampler.Count >= MaxEntries && !_byDomainAndSampler.ContainsKey(key))
        {
            return;
        }

        _byDomainAndSampler[key] = rate;
        if (_bySampler.Count < MaxEntries || _bySampler.ContainsKey(samplerId))
        {
            _bySampler[samplerId] = rate;
        }
    }

    /// <summary>
    /// The rate for a record: its own (domain, sampler), else the domain's sampler-less rate, else the same
    /// sampler announced in another domain (Juniper sends options under another domain); 0 when unknown.
    /// </summary>
    public uint Find(uint domain, uint samplerId)
    {
        if (_byDomainAndSampler.Count == 0)
        {
            return 0;
        }

        if (_byDomainAndSampler.TryGetValue(Key(domain, samplerId), out var rate))
        {
            return rate;
        }

        if (samplerId != 0 && _byDomainAndSampler.TryGetValue(Key(domain, 0), out rate))
        {
            return rate;
        }

        return _bySampler.TryGetValue(samplerId, out rate) ? rate : 0;
    }

    private static ulong Key(uint domain, uint samplerId) => ((ulong)domain << 32) | samplerId;
}
