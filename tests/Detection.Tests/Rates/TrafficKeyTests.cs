using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Rates;

/// <summary>
/// The aggregation tells a record's interface key from its parts without building one; that must agree with
/// building the key and comparing, for every part that differs and for keys of the other kinds.
/// </summary>
public sealed class TrafficKeyTests
{
    private static readonly NetworkAddress Router = NetworkAddress.Parse("192.0.2.1");
    private static readonly NetworkAddress OtherRouter = NetworkAddress.Parse("2001:db8::1");

    public static TheoryData<string, TrafficKey> Keys => new()
    {
        { "the same interface", TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Ingress) },
        { "another interface", TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 8, FlowDirection.Ingress) },
        { "the other direction", TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Egress) },
        { "another source", TrafficKey.ForInterface(TrafficSource.Ipfix, Router, 7, FlowDirection.Ingress) },
        { "another device", TrafficKey.ForInterface(TrafficSource.NetFlow, OtherRouter, 7, FlowDirection.Ingress) },
        { "the node", TrafficKey.ForNode(TrafficSource.NetFlow) },
        { "a prefix", TrafficKey.ForPrefix(7) },
        { "a destination", TrafficKey.ForDestination(Router, 0) },
        { "an interface key with a prefix", new TrafficKey(KeyKind.Interface, TrafficSource.NetFlow, Router, 7, FlowDirection.Ingress, default, 0) },
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public void IsInterface_AgreesWithBuildingTheKey(string name, TrafficKey key)
    {
        var built = TrafficKey.ForInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Ingress);

        Assert.True(key.Equals(built) == key.IsInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Ingress), name);
        Assert.Equal(name == "the same interface", key.IsInterface(TrafficSource.NetFlow, Router, 7, FlowDirection.Ingress));
    }

    [Fact]
    public void PackedParts_ReadBackAsBuilt()
    {
        var key = new TrafficKey(KeyKind.Interface, TrafficSource.SFlowCounters, OtherRouter, uint.MaxValue, FlowDirection.Egress, Router, -1);

        Assert.Equal(
            (KeyKind.Interface, TrafficSource.SFlowCounters, OtherRouter, uint.MaxValue, FlowDirection.Egress, Router, -1),
            (key.Kind, key.Source, key.Device, key.Interface, key.Direction, key.Address, key.Prefix));
    }
}
