using System.Text.Json.Serialization;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Pipeline;

/// <summary>One interface's rates in the last complete second, as /api/interfaces shows them (rounded to 3 decimals).</summary>
internal sealed record InterfaceRate(
    string Node,
    string? Exporter,
    string Interface,
    uint? IfIndex,
    string Direction,
    string Source,
    [property: JsonPropertyName("pps")] double PacketsPerSecond,
    [property: JsonPropertyName("bps")] double BitsPerSecond,
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
            Math.Round(sample.Counts.Packets, 3),
            Math.Round(sample.Counts.BitsPerSecond, 3),
            Math.Round(sample.Counts.Flows, 3));
    }
}
