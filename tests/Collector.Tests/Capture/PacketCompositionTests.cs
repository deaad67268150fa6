using FlowCollector.Collector.Capture;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Tests.Capture;

/// <summary>What a router-mode packet sample names as its victims, from real frames built by hand.</summary>
public sealed class PacketCompositionTests
{
    [Fact]
    public void ToSample_FloodEndedAndOnlyNeighbourDiscoveryLeft_NamesNoMulticastVictim()
    {
        var composition = new PacketComposition();
        for (var i = 0; i < 50; i++)
        {
            // IPv6 router solicitations (to ff02::2) and IPv4 multicast: what a quiet link still carries.
            composition.Add(Ipv6Frame("fe80::1", "ff02::2"), LinkType.Ethernet, 70);
            composition.Add(Ipv4Frame("192.0.2.5", "224.0.0.251"), LinkType.Ethernet, 60);
        }

        for (var i = 0; i < 5; i++)
        {
            composition.Add(Ipv4Frame("198.51.100.7", "192.0.2.77"), LinkType.Ethernet, 60);
        }

        var sample = composition.ToSample(1, 0.3);

        Assert.DoesNotContain(sample.Victims, v => v.Address is "ff02::2" or "224.0.0.251");
        Assert.Empty(sample.Victims);
    }

    [Fact]
    public void ToSample_FloodOnAHost_NamesIt()
    {
        var composition = new PacketComposition();
        for (var i = 0; i < 100; i++)
        {
            composition.Add(Ipv4Frame("198.51.100.7", "192.0.2.77"), LinkType.Ethernet, 60);
            composition.Add(Ipv6Frame("fe80::1", "ff02::2"), LinkType.Ethernet, 70);
        }

        var sample = composition.ToSample(1, 0.3);

        Assert.Equal("192.0.2.77", Assert.Single(sample.Victims).Address);
    }

    private static byte[] Ipv4Frame(string source, string destination)
    {
        var frame = new byte[14 + 20 + 8];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[17] = 28;
        frame[22] = 64;
        frame[23] = 17;
        System.Net.IPAddress.Parse(source).GetAddressBytes().CopyTo(frame, 26);
        System.Net.IPAddress.Parse(destination).GetAddressBytes().CopyTo(frame, 30);
        frame[35] = 53;
        frame[37] = 53;
        frame[39] = 8;
        return frame;
    }

    private static byte[] Ipv6Frame(string source, string destination)
    {
        var frame = new byte[14 + 40 + 8];
        frame[12] = 0x86;
        frame[13] = 0xDD;
        frame[14] = 0x60;
        frame[19] = 8;
        frame[20] = 58;
        frame[21] = 255;
        System.Net.IPAddress.Parse(source).GetAddressBytes().CopyTo(frame, 22);
        System.Net.IPAddress.Parse(destination).GetAddressBytes().CopyTo(frame, 38);
        frame[54] = 133;
        return frame;
    }
}
