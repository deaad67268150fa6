using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>What a traffic key counts.</summary>
public enum KeyKind : byte
{
    /// <summary>All traffic one source of evidence saw at this node.</summary>
    Node = 0,

    /// <summary>One interface of one device, in one direction.</summary>
    Interface = 1,

    /// <summary>One destination address inside a monitored prefix.</summary>
    Destination = 2,

    /// <summary>A monitored prefix as a whole (carpet bombing spreads over it).</summary>
    Prefix = 3,
}

/// <summary>The evidence a rate was computed from; interface rates from different evidence are kept apart.</summary>
public enum TrafficSource : byte
{
    NetFlow = 1,
    Ipfix = 2,
    SFlow = 3,
    Span = 4,
    ProcNetDev = 5,
    SFlowCounters = 6,
}

/// <summary>
/// The key of one per-second rate: an interface (device, interface, direction, source), a destination inside a
/// monitored prefix, a monitored prefix, or the node total per source. Unmanaged, so keys hash without allocation.
/// </summary>
public readonly record struct TrafficKey
{
    // Kind, source, direction and interface in one word, and the prefix in a word of its own: a key is built from
    // whole 8-byte stores, so copying one just built does not wait on narrower stores to land.
    private readonly ulong _packed;
    private readonly long _prefix;

    public TrafficKey(KeyKind kind, TrafficSource source, NetworkAddress device, uint @interface, FlowDirection direction, NetworkAddress address, int prefix)
    {
        _packed = Pack(kind, source, direction, @interface);
        Device = device;
        Address = address;
        _prefix = prefix;
    }

    public KeyKind Kind => (KeyKind)(byte)(_packed >> 48);

    public TrafficSource Source => (TrafficSource)(byte)(_packed >> 40);

    public NetworkAddress Device { get; }

    public uint Interface => (uint)_packed;

    public FlowDirection Direction => (FlowDirection)(byte)(_packed >> 32);

    public NetworkAddress Address { get; }

    public int Prefix => (int)_prefix;

    /// <summary>
    /// True when this is <see cref="ForInterface"/>'s key of these parts, told without building one: a key just
    /// built is copied whole into the lookup, and in the Native AOT build that copy waits for its stores to land.
    /// </summary>
    public bool IsInterface(TrafficSource source, NetworkAddress device, uint interfaceId, FlowDirection direction) =>
        _packed == Pack(KeyKind.Interface, source, direction, interfaceId) && Device.Equals(device) && _prefix == -1 && Address.Equals(default);

    public static TrafficKey ForNode(TrafficSource source) => new(KeyKind.Node, source, default, 0, FlowDirection.Unknown, default, -1);

    public static TrafficKey ForInterface(TrafficSource source, NetworkAddress device, uint interfaceId, FlowDirection direction) =>
        new(KeyKind.Interface, source, device, interfaceId, direction, default, -1);

    /// <summary>Destinations and prefixes sum every flow source: an attack seen by two exporters is one attack.</summary>
    public static TrafficKey ForDestination(NetworkAddress address, int prefix) =>
        new(KeyKind.Destination, 0, default, 0, FlowDirection.Unknown, address, prefix);

    public static TrafficKey ForPrefix(int prefix) => new(KeyKind.Prefix, 0, default, 0, FlowDirection.Unknown, default, prefix);

    // Hand-written because the generated members combine the fields through comparers: this key is hashed several
    // times per flow record.
    public bool Equals(TrafficKey other) =>
        _packed == other._packed && _prefix == other._prefix && Address.Equals(other.Address) && Device.Equals(other.Device);

    public override int GetHashCode()
    {
        var mixed = (_packed * 0x9E3779B97F4A7C15UL) ^ Address.Low ^ (Address.High * 0xC2B2AE3D27D4EB4FUL)
            ^ (Device.Low * 0x165667B19E3779F9UL) ^ Device.High ^ (uint)_prefix;
        mixed ^= mixed >> 29;
        mixed *= 0xBF58476D1CE4E5B9UL;
        return (int)(mixed ^ (mixed >> 32));
    }

    private static ulong Pack(KeyKind kind, TrafficSource source, FlowDirection direction, uint interfaceId) =>
        ((ulong)kind << 48) | ((ulong)source << 40) | ((ulong)direction << 32) | interfaceId;

    /// <summary>interface, destination, prefix or node, as incidents and metrics name the kind of key.</summary>
    public static string KindName(KeyKind kind) => kind switch
    {
        KeyKind.Interface => "interface",
        KeyKind.Destination => "destination",
        KeyKind.Prefix => "prefix",
        _ => "node",
    };

    /// <summary>The kind a name stands for (as stored and served); false for a name no kind has.</summary>
    public static bool TryParseKind(string? name, out KeyKind kind) => EnumNames.TryParse(name, KindName, out kind);

    public static string SourceName(TrafficSource source) => source switch
    {
        TrafficSource.NetFlow => "netflow",
        TrafficSource.Ipfix => "ipfix",
        TrafficSource.SFlow => "sflow",
        TrafficSource.Span => "span",
        TrafficSource.ProcNetDev => "procnetdev",
        TrafficSource.SFlowCounters => "sflow-counters",
        _ => "flows",
    };

    public static string DirectionName(FlowDirection direction) => direction switch
    {
        FlowDirection.Ingress => "in",
        FlowDirection.Egress => "out",
        _ => "any",
    };
}
