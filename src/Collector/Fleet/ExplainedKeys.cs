using System.Collections.Concurrent;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Fleet;

/// <summary>
/// The nodes' open incidents on destinations and prefixes: a breach of the fleet's sums on a key a node already has
/// an incident for (the key itself, a prefix holding the destination, a destination inside the prefix) is that
/// node's attack, not a fleet incident. Updated from the events consumed; read once a second as a snapshot.
/// </summary>
internal sealed class ExplainedKeys(MonitoredPrefixes prefixes)
{
    private readonly ConcurrentDictionary<(string Node, long Id), IpPrefix> _open = new();
    private HashSet<NetworkAddress> _destinations = [];
    private List<IpPrefix> _prefixes = [];

    public int Count => _open.Count;

    /// <summary>A node's incident changed: open ones on destinations and prefixes are held, closed ones let go.</summary>
    public void Update(string node, long id, string keyKind, string? address, bool open)
    {
        if (!open)
        {
            _open.TryRemove((node, id), out _);
            return;
        }

        if (keyKind == "destination" && NetworkAddress.TryParse(address, out var destination))
        {
            _open[(node, id)] = new IpPrefix(destination, destination.IsIPv4 ? 32 : 128);
        }
        else if (keyKind == "prefix" && IpPrefix.TryParse(address, out var prefix, out _))
        {
            _open[(node, id)] = prefix;
        }
    }

    /// <summary>Takes the current open incidents for the next second's judgement (the clock's thread).</summary>
    public void Snapshot()
    {
        var destinations = new HashSet<NetworkAddress>();
        var wider = new List<IpPrefix>();
        foreach (var prefix in _open.Values)
        {
            if (prefix.Length == (prefix.IsIPv4 ? 32 : 128))
            {
                destinations.Add(prefix.Network);
            }
            else
            {
                wider.Add(prefix);
            }
        }

        _destinations = destinations;
        _prefixes = wider;
    }

    /// <summary>Whether a node's open incident explains this key of the sums (as of the last snapshot).</summary>
    public bool Explains(TrafficKey key)
    {
        if (_destinations.Count == 0 && _prefixes.Count == 0)
        {
            return false;
        }

        if (key.Kind == KeyKind.Destination)
        {
            return _destinations.Contains(key.Address) || _prefixes.Exists(p => p.Contains(key.Address));
        }

        if (key.Kind != KeyKind.Prefix || key.Prefix < 0 || key.Prefix >= prefixes.Count)
        {
            return false;
        }

        var monitored = prefixes.Prefixes[key.Prefix];
        return _prefixes.Exists(p => p == monitored || monitored.Contains(p.Network) || p.Contains(monitored.Network))
            || _destinations.Any(monitored.Contains);
    }
}
