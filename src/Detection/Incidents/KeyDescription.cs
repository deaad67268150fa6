using System.Globalization;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// A traffic key in words, made once per key: the stable text a restart finds baselines and incidents by, and the
/// fields an incident reports.
/// </summary>
public sealed record KeyDescription(string Text, KeyKind Kind, string Node, string? Source, string? Exporter, string? Interface, string? Direction, string? Address)
{
    public static KeyDescription Of(in TrafficKey key, string node, InterfaceNames names, MonitoredPrefixes prefixes)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(prefixes);
        switch (key.Kind)
        {
            case KeyKind.Interface:
            {
                var source = TrafficKey.SourceName(key.Source);
                var exporter = key.Device.Equals(NetworkAddress.None) ? null : key.Device.ToString();
                var name = names.NameOf(key.Interface) ?? key.Interface.ToString(CultureInfo.InvariantCulture);
                var direction = TrafficKey.DirectionName(key.Direction);
                return new($"interface/{source}/{exporter ?? "-"}/{name}/{direction}", KeyKind.Interface, node, source, exporter, name, direction, null);
            }

            case KeyKind.Destination:
            {
                var address = key.Address.ToString();
                return new($"destination/{address}", KeyKind.Destination, node, null, null, null, null, address);
            }

            case KeyKind.Prefix:
            {
                var prefix = key.Prefix >= 0 && key.Prefix < prefixes.Count ? prefixes.Prefixes[key.Prefix].ToString() : "?";
                return new($"prefix/{prefix}", KeyKind.Prefix, node, null, null, null, null, prefix);
            }

            default:
            {
                var source = TrafficKey.SourceName(key.Source);
                return new($"node/{source}", KeyKind.Node, node, source, null, null, null, null);
            }
        }
    }
}
