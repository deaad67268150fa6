using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Sources;

/// <summary>Addresses and prefixes of exporters datagrams are accepted from; empty means everyone.</summary>
internal sealed class ExporterAllowlist(IEnumerable<IpPrefix> prefixes)
{
    private readonly MonitoredPrefixes _prefixes = new(prefixes);

    public bool AllowsAll => _prefixes.Count == 0;

    public bool Allows(NetworkAddress exporter) => AllowsAll || _prefixes.Find(exporter) >= 0;
}
