using FlowCollector.Decoders;

namespace FlowCollector.Collector.Configuration;

/// <summary>
/// The lists that decide safety as the running collector applies them, each entry with where it comes from: what
/// mitigation never acts on (the configured allowlist plus this machine's addresses, the BGP peers and next hop),
/// and which exporters are heard. <c>check-config</c> prints them; the runtime uses the same.
/// </summary>
internal static class EffectiveLists
{
    public static IReadOnlyList<(IpPrefix Prefix, string Source)> MitigationAllowlist(CollectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var mitigation = options.Mitigation;
        var list = new List<(IpPrefix, string)>();
        list.AddRange(mitigation.Allowlist.Select(p => (IpPrefix.Parse(p), "Mitigation:Allowlist")));
        if (mitigation.AllowlistLocalAddresses)
        {
            list.AddRange(LocalAddresses().Select(p => (p, "this machine's address")));
        }

        list.AddRange(mitigation.ExaBgp.Peers.Select(p => (IpPrefix.Parse(p), "Mitigation:ExaBgp:Peers")));
        if (mitigation.ExaBgp.NextHop.Length > 0)
        {
            list.Add((IpPrefix.Parse(mitigation.ExaBgp.NextHop), "Mitigation:ExaBgp:NextHop"));
        }

        return list;
    }

    /// <summary>Every address of this machine's interfaces: the node never blocks itself.</summary>
    private static IEnumerable<IpPrefix> LocalAddresses()
    {
        foreach (var networkInterface in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (var unicast in networkInterface.GetIPProperties().UnicastAddresses)
            {
                var address = unicast.Address.IsIPv4MappedToIPv6 ? unicast.Address.MapToIPv4() : unicast.Address;
                if (IpPrefix.TryParse(address.ToString().Split('%')[0], out var prefix, out _))
                {
                    yield return prefix;
                }
            }
        }
    }
}
