using System.Globalization;
using System.Text;
using FlowCollector.Decoders.Packets;
using FlowCollector.Decoders.Tests.Support;
using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Decoders.Tests.Packets;

/// <summary>
/// PacketDotNet is the oracle: every frame of every capture in the shared fixtures is parsed by both parsers,
/// and they must agree on addresses, protocol, ports and TCP flags. Mirrored captures are compared again inside
/// their tunnels: PacketDotNet parses the inner frame that our parser found.
/// </summary>
public sealed class PacketDotNetOracleTests
{
    private const string Missing = "(shared fixtures missing)";

    public static TheoryData<string> Captures()
    {
        var data = new TheoryData<string>();
        if (!SharedFixtures.Exists)
        {
            data.Add(Missing);
            return data;
        }

        foreach (var entry in SharedFixtures.Manifest.Where(e => e.Path.StartsWith("pcaps/", StringComparison.Ordinal)))
        {
            data.Add(entry.Path);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Parse_EveryFrameOfTheCapture_AgreesWithPacketDotNet(string path)
    {
        TestEnvironment.Require(path != Missing && SharedFixtures.Exists, $"shared fixtures not found at {SharedFixtures.Root}");
        var mirrored = path.StartsWith("pcaps/span/", StringComparison.Ordinal);
        var problems = new StringBuilder();
        var compared = 0;
        using var device = new CaptureFileReaderDevice(SharedFixtures.FullPath(SharedFixtures.Entry(path)));
        device.Open();
        var linkType = (LinkType)(ushort)device.LinkType;
        var frameNumber = 0;
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            frameNumber++;
            var frame = capture.Data.ToArray();
            var status = PacketHeaderParser.Parse(frame, linkType, out var observed);
            compared += CompareFrame(frameNumber, "observed", status, observed, frame, device.LinkType, problems);
            if (mirrored)
            {
                status = PacketHeaderParser.Parse(frame, linkType, out var inner, PacketParseMode.Mirrored);
                if (inner.Encapsulation != Encapsulation.None)
                {
                    compared += CompareFrame(frameNumber, $"inside {inner.Encapsulation}", status, inner, frame, device.LinkType, problems);
                }
            }
        }

        Assert.True(problems.Length == 0, $"{path}:\n{problems}");
        Assert.True(compared > 0 || frameNumber == 0 || !HasIp(path), $"{path}: no frame was compared");
    }

    /// <summary>
    /// Compares with PacketDotNet on the whole frame, or, where PacketDotNet cannot go (MPLS, ERSPAN, TZSP) or the
    /// frame was opened as a tunnel, on the inner frame our parser found. An IP header whose version nibble or
    /// header length is impossible is malformed to us; PacketDotNet guesses on such bytes, so they are not compared.
    /// </summary>
    private static int CompareFrame(int frame, string what, PacketStatus status, PacketHeader ours, byte[] bytes, LinkLayers layer, StringBuilder problems)
    {
        if (status is PacketStatus.Malformed or PacketStatus.NotIp && ours.IpVersion == 0)
        {
            return 0;
        }

        var inner = ours.InnerLinkType == LinkType.Ethernet ? LinkLayers.Ethernet : LinkLayers.Raw;
        if (ours.Encapsulation != Encapsulation.None)
        {
            return Compare(frame, what, ours, bytes[ours.InnerOffset..], inner, problems);
        }

        var whole = Compare(frame, what, ours, bytes, layer, problems);
        return whole > 0 || ours.InnerOffset == 0 || ours.IpVersion == 0 ? whole : Compare(frame, what + " (inner)", ours, bytes[ours.InnerOffset..], inner, problems);
    }

    private static bool HasIp(string path) => !path.Contains("802.1ad", StringComparison.Ordinal) && !path.Contains("gre-heapoverflow-1", StringComparison.Ordinal) && !path.Contains("erspan-type-iii-ft-7", StringComparison.Ordinal)
        && !path.Contains("mpls-eompls", StringComparison.Ordinal) && !path.Contains("mpls-invalid", StringComparison.Ordinal);

    /// <summary>Compares one parse with PacketDotNet's; returns 1 when an IP packet was compared.</summary>
    private static int Compare(int frame, string what, PacketHeader ours, byte[] bytes, LinkLayers layer, StringBuilder problems)
    {
        Packet packet;
        try
        {
            packet = Packet.ParsePacket(layer, bytes);
        }
#pragma warning disable CA1031 // The oracle may fail on malformed frames; ours must not, and is checked elsewhere.
        catch (Exception)
#pragma warning restore CA1031
        {
            return 0;
        }

        var ip = Safe(() => packet.Extract<IPPacket>());
        if (ip is null)
        {
            return 0;
        }

        void Expect<T>(string field, T theirs, T mine)
        {
            if (!EqualityComparer<T>.Default.Equals(theirs, mine))
            {
                problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame} {what}: {field} ours {mine}, PacketDotNet {theirs}");
            }
        }

        var version = ip.Version == IPVersion.IPv4 ? 4 : 6;
        if (ours.IpVersion == 0 && ours.IsTruncated)
        {
            return 0;
        }

        Expect("IP version", version, (int)ours.IpVersion);
        Expect("source", ip.SourceAddress.ToString(), ours.SourceAddress.ToString());
        Expect("destination", ip.DestinationAddress.ToString(), ours.DestinationAddress.ToString());
        Expect("protocol", (int)ip.Protocol, (int)ours.Protocol);
        if (ours.IsFragment)
        {
            return 1;
        }

        var tcp = Safe(() => packet.Extract<TcpPacket>());
        var udp = Safe(() => packet.Extract<UdpPacket>());
        if (tcp is not null && ours.HasTransport)
        {
            Expect("source port", (int)tcp.SourcePort, (int)ours.SourcePort);
            Expect("destination port", (int)tcp.DestinationPort, (int)ours.DestinationPort);
            Expect("TCP flags", (int)(tcp.Flags & 0xFF), (int)ours.TcpFlags);
        }
        else if (udp is not null && ours.HasTransport)
        {
            Expect("source port", (int)udp.SourcePort, (int)ours.SourcePort);
            Expect("destination port", (int)udp.DestinationPort, (int)ours.DestinationPort);
        }

        return 1;
    }

    private static T? Safe<T>(Func<T?> extract)
        where T : class
    {
        try
        {
            return extract();
        }
#pragma warning disable CA1031 // PacketDotNet parses lazily and may throw on access; such a frame is simply not compared.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }
}
