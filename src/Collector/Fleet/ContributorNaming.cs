using FlowCollector.Decoders;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Fleet;

/// <summary>
/// Names, in each fleet incident, the nodes whose traffic made up the sum: every node that sent traffic for the key
/// while the incident was open, heaviest (its highest packet rate) first. Sits between the fleet's detector and the
/// incident feed, on the clock's thread, right after the second whose contributions it reads was released.
/// </summary>
internal sealed class ContributorNaming(FleetSums sums, IIncidentObserver next) : IIncidentObserver
{
    private readonly Dictionary<long, Dictionary<string, double>> _shares = [];

    public void OnIncident(in IncidentEvent change)
    {
        var incident = change.Incident;
        if (!_shares.TryGetValue(incident.Id, out var shares))
        {
            shares = new Dictionary<string, double>(StringComparer.Ordinal);
            _shares[incident.Id] = shares;
        }

        if (KeyOf(incident) is { } key)
        {
            foreach (var (node, packets) in sums.Contributors(key))
            {
                shares[node] = Math.Max(shares.GetValueOrDefault(node), packets);
            }
        }

        var named = incident with { Nodes = [.. shares.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Key)] };
        if (change.Change == IncidentChange.Closed)
        {
            _shares.Remove(incident.Id);
        }

        next.OnIncident(change with { Incident = named });
    }

    private TrafficKey? KeyOf(IncidentRecord incident)
    {
        var prefixes = sums.Prefixes;
        if (incident.KeyKind == KeyKind.Destination && NetworkAddress.TryParse(incident.Address, out var address) && prefixes.Find(address) is var index and >= 0)
        {
            return TrafficKey.ForDestination(address, index);
        }

        if (incident.KeyKind == KeyKind.Prefix && IpPrefix.TryParse(incident.Address, out var prefix, out _))
        {
            for (var i = 0; i < prefixes.Count; i++)
            {
                if (prefixes.Prefixes[i] == prefix)
                {
                    return TrafficKey.ForPrefix(i);
                }
            }
        }

        return null;
    }
}
