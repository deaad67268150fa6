using System.Text.Json;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Pipeline;

/// <summary>One interface's rates in the last complete second, as /api/interfaces shows them.</summary>
internal readonly record struct InterfaceRate(
    string Node,
    string? Exporter,
    string Interface,
    uint? IfIndex,
    string Direction,
    string Source,
    double PacketsPerSecond,
    double BitsPerSecond,
    double FlowsPerSecond)
{
    public static InterfaceRate From(in TrafficSample sample, string node, InterfaceNames names)
    {
        var key = sample.Key;
        var name = names.NameOf(key.Interface);
        return new InterfaceRate(
            key.Device == NetworkAddress.None ? node : key.Device.ToString(),
            key.Device == NetworkAddress.None ? null : key.Device.ToString(),
            name ?? key.Interface.ToString(System.Globalization.CultureInfo.InvariantCulture),
            name is null ? key.Interface : null,
            TrafficKey.DirectionName(key.Direction),
            TrafficKey.SourceName(key.Source),
            sample.Counts.Packets,
            sample.Counts.BitsPerSecond,
            sample.Counts.Flows);
    }

    /// <summary>Writes the documented keys (node, exporter, interface, ifIndex, direction, source, pps, bps, flowsPerSecond).</summary>
    public void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("node", Node);
        writer.WriteString("exporter", Exporter);
        writer.WriteString("interface", Interface);
        if (IfIndex is { } ifIndex)
        {
            writer.WriteNumber("ifIndex", ifIndex);
        }
        else
        {
            writer.WriteNull("ifIndex");
        }

        writer.WriteString("direction", Direction);
        writer.WriteString("source", Source);
        writer.WriteNumber("pps", Math.Round(PacketsPerSecond, 3));
        writer.WriteNumber("bps", Math.Round(BitsPerSecond, 3));
        writer.WriteNumber("flowsPerSecond", Math.Round(FlowsPerSecond, 3));
        writer.WriteEndObject();
    }
}
