using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Packets;

/// <summary>
/// Known traffic mirrored to the collector in ERSPAN II and III, GRE, TZSP and plain VLAN-tagged SPAN (built with
/// scapy by tests/fixtures/generate-mirrored.py, cut to a 160-byte snap length): every frame becomes one packet,
/// and the packets and IP bytes add up to the traffic.
/// </summary>
public sealed class MirroredCaptureTests
{
    private static readonly NetworkAddress MirroringSwitch = NetworkAddress.Parse("192.0.2.200");

    public static TheoryData<string, string> Captures() => new()
    {
        { "mirrored-erspan2", "192.0.2.200" },
        { "mirrored-erspan3", "192.0.2.200" },
        { "mirrored-gre", "192.0.2.200" },
        { "mirrored-tzsp", "192.0.2.200" },
        { "mirrored-vlan", "::" },
    };

    [Theory]
    [MemberData(nameof(Captures))]
    public void Decode_CommittedMirroredCapture_AddsUpToTheKnownTraffic(string name, string exporter)
    {
        var records = KnownTraffic.DecodeMirrored(Path.Combine(KnownTraffic.CommittedCaptures, name + ".pcap"), out var withoutIp);

        Assert.Equal(0, withoutIp);
        Assert.All(records, r => Assert.Equal((ExportFormat.Span, 1UL, 1u, exporter), (r.Format, r.Packets, r.SamplingRate, r.Exporter.ToString())));
        KnownTraffic.AssertTotals(KnownTraffic.CommittedCaptures, records);
    }

    [Fact]
    public void Decode_ErspanTypeII_KeepsSessionAndPortOfTheMirroringSwitch()
    {
        var records = KnownTraffic.DecodeMirrored(Path.Combine(KnownTraffic.CommittedCaptures, "mirrored-erspan2.pcap"), out _);

        Assert.All(records, r => Assert.Equal((MirroringSwitch, 42u, 7u), (r.Exporter, r.ObservationDomain, r.InputInterface)));
    }

    [Fact]
    public void Decode_PlainSpan_KeepsTheVlanTag()
    {
        var records = KnownTraffic.DecodeMirrored(Path.Combine(KnownTraffic.CommittedCaptures, "mirrored-vlan.pcap"), out _);

        Assert.All(records, r => Assert.Equal((ushort)300, r.Vlan));
    }

    [Fact]
    public void Generate_ScapyLive_EveryWrappingAddsUpToTheKnownTraffic()
    {
        TestEnvironment.Require(ExternalTools.HasScapy(), "python3-scapy is not installed (apt-get install python3-scapy)");
        var output = Directory.CreateTempSubdirectory("flowcollector-mirrored-");
        try
        {
            var (trafficExit, trafficLog) = ExternalTools.Run("/usr/bin/python3", [Path.Combine(KnownTraffic.FixtureFolder, "traffic.py"), Path.Combine(output.FullName, "traffic.pcap"), Path.Combine(output.FullName, "traffic.json")], TimeSpan.FromMinutes(2));
            Assert.True(trafficExit == 0, trafficLog);
            var (exitCode, log) = ExternalTools.Run("/usr/bin/python3", [Path.Combine(KnownTraffic.FixtureFolder, "generate-mirrored.py"), output.FullName], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, log);
            foreach (var name in new[] { "mirrored-erspan2", "mirrored-erspan3", "mirrored-gre", "mirrored-tzsp", "mirrored-vlan" })
            {
                KnownTraffic.AssertTotals(output.FullName, KnownTraffic.DecodeMirrored(Path.Combine(output.FullName, name + ".pcap"), out _));
            }
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
