using System.Globalization;
using System.Text.Json;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Decoders.Tests.Support;

/// <summary>
/// The known traffic of tests/fixtures/traffic.py, and the checks that an export of it (flows, sFlow samples,
/// mirrored frames) adds up to exactly its packets and IP bytes, per IP version and per protocol.
/// </summary>
internal static class KnownTraffic
{
    /// <summary>traffic.py's flush packets, sent after the traffic for exporters that lose a file's tail.</summary>
    public static readonly NetworkAddress FlushSource = NetworkAddress.Parse("192.0.2.254");

    public static string FixtureFolder { get; } = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "fixtures");

    public static string CommittedCaptures { get; } = Path.Combine(FixtureFolder, "pcaps");

    public static void AssertTotals(string folder, IReadOnlyCollection<FlowRecord> records, bool ipv4Only = false)
    {
        using var totals = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "traffic.json")));
        var traffic = records.Where(r => r.SourceAddress != FlushSource).ToList();
        Assert.NotEmpty(traffic);
        foreach (var entry in totals.RootElement.EnumerateObject())
        {
            var parts = entry.Name.Split('/');
            var version = parts[0] == "ipv4" ? 4 : 6;
            if (ipv4Only && version == 6)
            {
                continue;
            }

            var matching = traffic.Where(r => r.IpVersion == version && (parts.Length == 1 || r.IpProtocol == byte.Parse(parts[1], CultureInfo.InvariantCulture))).ToList();
            var packets = matching.Aggregate(0UL, (sum, r) => sum + r.Packets);
            var bytes = matching.Aggregate(0UL, (sum, r) => sum + r.Bytes);
            Assert.True(
                packets == entry.Value.GetProperty("packets").GetUInt64() && bytes == entry.Value.GetProperty("bytes").GetUInt64(),
                $"{entry.Name}: decoded {packets} packets and {bytes} bytes, the traffic has {entry.Value.GetProperty("packets")} and {entry.Value.GetProperty("bytes")}");
        }
    }

    /// <summary>Decodes the flow exports in a capture with one decoder.</summary>
    public static List<FlowRecord> DecodeExports(string path, out List<DecodeStatus> statuses, out List<InterfaceCounters> counters)
    {
        var decoder = new FlowDecoder();
        var sink = new RecordingSink();
        statuses = [];
        foreach (var datagram in SharedFixtures.CaptureDatagrams(path))
        {
            statuses.Add(decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink));
        }

        counters = sink.Counters;
        return sink.Records;
    }

    /// <summary>Decodes every frame of a capture of mirrored traffic as one packet.</summary>
    public static List<FlowRecord> DecodeMirrored(string path, out int framesWithoutIp)
    {
        var records = new List<FlowRecord>();
        framesWithoutIp = 0;
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        var linkType = (LinkType)(ushort)device.LinkType;
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            var wireLength = capture.Header is PcapHeader header ? (int)header.PacketLength : capture.Data.Length;
            if (PacketFlows.TryDecodeMirrored(capture.Data, linkType, wireLength, 0, out var flow))
            {
                records.Add(flow);
            }
            else
            {
                framesWithoutIp++;
            }
        }

        return records;
    }
}
