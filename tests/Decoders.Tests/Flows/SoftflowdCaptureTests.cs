using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Flows;

/// <summary>
/// Known traffic exported by a real exporter (softflowd) as NetFlow v5, v9 and IPFIX: the decoded records add up
/// to exactly the packets and IP bytes of the traffic, per IP version.
/// </summary>
public sealed class SoftflowdCaptureTests
{
    private static readonly string FixtureFolder = KnownTraffic.FixtureFolder;

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
        var records = DecodeCapture(Path.Combine(folder, name + ".pcap"), out var statuses);

        Assert.All(statuses, status => Assert.Equal(DecodeStatus.Ok, status));
        KnownTraffic.AssertTotals(folder, records, ipv4Only: name == "softflowd-v5");
    }

    private static List<FlowRecord> DecodeCapture(string path, out List<DecodeStatus> statuses) =>
        KnownTraffic.DecodeExports(path, out statuses, out _);
}
