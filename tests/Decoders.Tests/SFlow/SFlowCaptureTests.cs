using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;
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
    public void Decode_CommittedPmacctExport_HandsOnEachSampledHeaderAfterItsRecord()
    {
        var decoder = new FlowDecoder();
        var sink = new HeaderSink();
        foreach (var datagram in SharedFixtures.CaptureDatagrams(Path.Combine(KnownTraffic.CommittedCaptures, "pmacct-sflow.pcap")))
        {
            decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink);
        }

        Assert.NotEmpty(sink.Headers);
        Assert.Equal(sink.Records.Count, sink.Headers.Count);
        for (var i = 0; i < sink.Headers.Count; i++)
        {
            // The header is the sampled packet's own first bytes: parsed again, it names the record's packet.
            var (header, linkType, frameLength, flow) = sink.Headers[i];
            Assert.Equal(LinkType.Ethernet, linkType);
            Assert.Equal(flow.FrameLength, frameLength);
            Assert.True(PacketFlows.TryDecodeMirrored(header, linkType, (int)frameLength, 0, out var again));
            Assert.Equal((flow.SourceAddress, flow.DestinationAddress, flow.SourcePort, flow.DestinationPort), (again.SourceAddress, again.DestinationAddress, again.SourcePort, again.DestinationPort));
        }
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

    /// <summary>Keeps each record and each sampled header with the record it followed.</summary>
    private struct HeaderSink() : IFlowSink
    {
        private FlowRecord _last;

        public List<FlowRecord> Records { get; } = [];

        public List<(byte[] Header, LinkType LinkType, uint FrameLength, FlowRecord Flow)> Headers { get; } = [];

        public void OnFlow(in FlowRecord flow)
        {
            Records.Add(flow);
            _last = flow;
        }

        public readonly void OnCounters(in InterfaceCounters counters)
        {
        }

        public readonly void OnSampledHeader(ReadOnlySpan<byte> header, LinkType linkType, uint frameLength, long receivedMilliseconds) =>
            Headers.Add((header.ToArray(), linkType, frameLength, _last));
    }
}
