using System.Text.Json;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Flows;

/// <summary>
/// Known traffic exported by a real exporter (softflowd) as NetFlow v5, v9 and IPFIX: the decoded records add up
/// to exactly the packets and IP bytes of the traffic, per IP version.
/// </summary>
public sealed class SoftflowdCaptureTests
{
    private static readonly string FixtureFolder = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "fixtures");

    private static readonly string[] ExportNames = ["softflowd-v5", "softflowd-v9", "softflowd-ipfix", "softflowd-ipfix-biflow", "softflowd-ipfix-nanoseconds"];

    public static TheoryData<string> Exports() => [.. ExportNames];

    [Theory]
    [MemberData(nameof(Exports))]
    public void Decode_CommittedSoftflowdExport_AddsUpToTheKnownTraffic(string name)
    {
        AssertExportMatchesTraffic(Path.Combine(FixtureFolder, "pcaps"), name);
    }

    [Fact]
    public void Decode_BidirectionalIpfix_DeliversReverseRecords()
    {
        var records = DecodeCapture(Path.Combine(FixtureFolder, "pcaps", "softflowd-ipfix-biflow.pcap"), out _);

        Assert.Contains(records, r => r.Attributes.HasFlag(FlowAttributes.Reverse));
        Assert.Contains(records, r => !r.Attributes.HasFlag(FlowAttributes.Reverse));
    }

    [Fact]
    public void Decode_NanosecondIpfix_FlowTimesAreThoseOfTheTraffic()
    {
        var records = DecodeCapture(Path.Combine(FixtureFolder, "pcaps", "softflowd-ipfix-nanoseconds.pcap"), out _);

        // traffic.py starts at Unix time 1 700 000 000 and lasts about 25 seconds.
        Assert.All(records, r =>
        {
            Assert.InRange(r.StartMilliseconds, 1_700_000_000_000, 1_700_000_030_000);
            Assert.InRange(r.EndMilliseconds, r.StartMilliseconds, 1_700_000_030_000);
        });
    }

    [Fact]
    public void Generate_SoftflowdLive_EveryExportAddsUpToTheKnownTraffic()
    {
        TestEnvironment.Require(ExternalTools.Exists("softflowd"), "softflowd is not installed (apt-get install softflowd)");
        TestEnvironment.Require(ExternalTools.Exists("tcpdump"), "tcpdump is not installed (apt-get install tcpdump)");
        TestEnvironment.Require(ExternalTools.IsRoot, "capturing on lo needs root");
        TestEnvironment.Require(ExternalTools.HasScapy(), "python3-scapy is not installed (apt-get install python3-scapy)");
        var output = Directory.CreateTempSubdirectory("flowcollector-softflowd-");
        try
        {
            var (exitCode, log) = ExternalTools.Run(Path.Combine(FixtureFolder, "generate-softflowd.sh"), [output.FullName], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, log);
            foreach (var name in ExportNames)
            {
                AssertExportMatchesTraffic(output.FullName, name);
            }
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private static void AssertExportMatchesTraffic(string folder, string name)
    {
        using var totals = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "traffic.json")));
        var records = DecodeCapture(Path.Combine(folder, name + ".pcap"), out var statuses);

        Assert.NotEmpty(records);
        Assert.All(statuses, status => Assert.Equal(DecodeStatus.Ok, status));
        foreach (var version in name == "softflowd-v5" ? new[] { 4 } : [4, 6])
        {
            var expected = totals.RootElement.GetProperty($"ipv{version}");
            var ofVersion = records.Where(r => r.IpVersion == version).ToList();
            Assert.Equal(expected.GetProperty("packets").GetUInt64(), ofVersion.Aggregate(0UL, (sum, r) => sum + r.Packets));
            Assert.Equal(expected.GetProperty("bytes").GetUInt64(), ofVersion.Aggregate(0UL, (sum, r) => sum + r.Bytes));
        }

        // Per protocol too: TCP, UDP and ICMP each add up.
        foreach (var entry in totals.RootElement.EnumerateObject().Where(p => p.Name.Contains('/', StringComparison.Ordinal) && (name != "softflowd-v5" || p.Name.StartsWith("ipv4", StringComparison.Ordinal))))
        {
            var parts = entry.Name.Split('/');
            var matching = records.Where(r => r.IpVersion == (parts[0] == "ipv4" ? 4 : 6) && r.IpProtocol == byte.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(entry.Value.GetProperty("packets").GetUInt64(), matching.Aggregate(0UL, (sum, r) => sum + r.Packets));
        }
    }

    private static List<FlowRecord> DecodeCapture(string path, out List<DecodeStatus> statuses)
    {
        var decoder = new FlowDecoder();
        var sink = new RecordingSink();
        statuses = [];
        foreach (var datagram in SharedFixtures.CaptureDatagrams(path))
        {
            statuses.Add(decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink));
        }

        return sink.Records;
    }
}
