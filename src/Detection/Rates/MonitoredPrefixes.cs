using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// The prefixes an operator protects: destinations inside them get keys of their own. Longest match wins, looked
/// up with one hash probe per distinct prefix length, so hundreds of prefixes cost a handful of probes.
/// </summary>
public sealed class MonitoredPrefixes
{
    private readonly (int Bits, Dictionary<NetworkAddress, int> Networks)[] _byLength;

    public MonitoredPrefixes(IEnumerable<IpPrefix> prefixes)
    {
        ArgumentNullException.ThrowIfNull(prefixes);
        Prefixes = [.. prefixes.Distinct()];
        _byLength = [.. Prefixes
            .Select((prefix, index) => (prefix, index))
            .GroupBy(p => p.prefix.IsIPv4 ? p.prefix.Length + 96 : p.prefix.Length)
            .OrderByDescending(g => g.Key)
            .Select(g => (g.Key, g.ToDictionary(p => p.prefix.Network, p => p.index)))];
    }

    public static MonitoredPrefixes None { get; } = new([]);

    public IReadOnlyList<IpPrefix> Prefixes { get; }

    public int Count => Prefixes.Count;

    /// <summary>Index of the longest monitored prefix holding the address, or -1.</summary>
    public int Find(NetworkAddress address)
    {
        foreach (var (bits, networks) in _byLength)
        {
            // Lengths are stored in IPv6 bits (IPv4 is mapped), so one mask serves both families.
            if (networks.TryGetValue(IpPrefix.Mask(address, address.IsIPv4 ? bits - 96 : bits), out var index))
            {
                return index;
            }
        }

        return -1;
    }
}
