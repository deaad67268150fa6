using System.Diagnostics.CodeAnalysis;
using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// One key's traffic in one second, multiplied by the sampling rate: rates per second, the protocol mix, and the
/// heaviest source ports and source addresses of what arrived.
/// </summary>
[SuppressMessage("Design", "CA1051", Justification = "Merged in place through refs at the tick; properties would copy the nested counts.")]
public struct TrafficSample
{
    public TrafficKey Key;

    /// <summary>The second this sample covers, Unix seconds.</summary>
    public long Second;

    public TrafficCounts Counts;

    /// <summary>Heaviest (protocol &lt;&lt; 16 | source port) of TCP and UDP, weighted by packets.</summary>
    public TopItems<uint> SourcePorts;

    /// <summary>Heaviest source addresses, weighted by packets.</summary>
    public TopItems<NetworkAddress> Sources;

    /// <summary>Destinations with traffic this second (prefix keys: inside the prefix; node keys: all monitored).</summary>
    public int Destinations;

    public static uint PortKey(byte protocol, ushort port) => ((uint)protocol << 16) | port;

    public static (byte Protocol, ushort Port) SplitPortKey(uint key) => ((byte)(key >> 16), (ushort)key);
}
