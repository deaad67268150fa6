using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.SFlow;

/// <summary>
/// Known traffic sampled 1 in 1 by a real sFlow agent (pmacctd with its sfprobe plugin): the decoded samples add
/// up to exactly the traffic's packets and IP bytes.
/// </summary>
public sealed class SFlowCaptureTests
{
    [Fact]
    public void Decode_CommittedPmacctExport_AddsUpToTheKnownTraffic()
    {
        AssertExport(KnownTraffic.CommittedCaptures);
    }

    [Fact]
    public void Generate_PmacctLive_AddsUpToTheKnownTraffic()
    {
        TestEnvironment.Require(ExternalTools.Exists("pmacctd"), "pmacct is not installed (apt-get install pmacct)");
        TestEnvironment.Require(ExternalTools.Exists("tcpdump"), "tcpdump is not installed (apt-get install tcpdump)");
        TestEnvironment.Require(ExternalTools.IsRoot, "capturing on lo needs root");
        TestEnvironment.Require(ExternalTools.HasScapy(), "python3-scapy is not installed (apt-get install python3-scapy)");
        var output = Directory.CreateTempSubdirectory("flowcollector-pmacct-");
        try
        {
            var (exitCode, log) = ExternalTools.Run(Path.Combine(KnownTraffic.FixtureFolder, "generate-sflow.sh"), [output.FullName], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, log);
            AssertExport(output.FullName);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private static void AssertExport(string folder)
    {
        var records = KnownTraffic.DecodeExports(Path.Combine(folder, "pmacct-sflow.pcap"), out var statuses, out _);

        Assert.All(statuses, status => Assert.Equal(DecodeStatus.Ok, status));
        Assert.All(records, r => Assert.Equal((ExportFormat.SFlow, 1UL, 1u), (r.Format, r.Packets, r.SamplingRate)));
        Assert.Contains(records, r => r.SourceAddress == KnownTraffic.FlushSource);
        KnownTraffic.AssertTotals(folder, records);
    }
}
