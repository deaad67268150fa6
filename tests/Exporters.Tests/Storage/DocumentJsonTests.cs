using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Tests.Storage;

/// <summary>The documented JSON of incidents and actions, key for key and in order, as the API and jsonl serve it.</summary>
public sealed class DocumentJsonTests
{
    private static readonly DateTimeOffset Opened = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Fact]
    public void Line_CarpetBombingClosedCalm_IsTheDocumentedObject()
    {
        var incident = new IncidentRecord
        {
            Id = 12,
            Key = "prefix/203.0.113.0/24",
            KeyKind = KeyKind.Prefix,
            Node = "edge-1",
            Address = "203.0.113.0/24",
            AttackType = AttackType.CarpetBombing,
            Vector = AttackType.DnsAmplification,
            Confidence = 1,
            Severity = Severity.Critical,
            OpenedAt = Opened,
            ClosedAt = Opened.AddSeconds(95),
            UpdatedAt = Opened.AddSeconds(95.5),
            FirstSecond = 1_800_000_000,
            PeakPps = 120_000.5,
            PeakBps = 9.6e9,
            CurrentPps = 0,
            CurrentBps = 0,
            CapacityBps = 10e9,
            Threshold = 20_000,
            ThresholdMetric = DetectionMetric.UdpPps,
            TopSourcePorts = [new PortRate("udp", 53, 110_000)],
            TopSources = [new SourceRate("198.51.100.7", 40_000.5)],
            Reopened = 1,
            CloseReason = CloseReason.Calm,
        };

        Assert.Equal(
            """{"id":12,"keyKind":"prefix","node":"edge-1","source":null,"exporter":null,"interface":null,"direction":null,"address":"203.0.113.0/24","attackType":"carpet_bombing","vector":"dns_amplification","vectors":[],"confidence":1,"severity":"critical","openedAt":"2027-01-15T08:00:00Z","closedAt":"2027-01-15T08:01:35Z","updatedAt":"2027-01-15T08:01:35.5Z","firstSecond":1800000000,"peakPps":120000.5,"peakBps":9600000000,"currentPps":0,"currentBps":0,"capacityBps":10000000000,"threshold":20000,"thresholdMetric":"udp_pps","topSourcePorts":[{"protocol":"udp","port":53,"pps":110000}],"topSources":[{"address":"198.51.100.7","pps":40000.5}],"reopened":1,"closeReason":"calm","victims":[],"pcap":null,"nodes":[]}""",
            IncidentJson.Line(incident));
    }

    [Fact]
    public void Line_PendingAction_IsTheDocumentedObject()
    {
        var action = new MitigationAction
        {
            Id = 3,
            IncidentId = 12,
            Kind = ActionKind.FlowSpec,
            Rule = "destination 203.0.113.10/32; protocol udp; source-port 53",
            State = ActionState.Pending,
            Attempts = 2,
            Error = "ExaBGP did not acknowledge",
        };

        Assert.Equal(
            """{"id":3,"incidentId":12,"kind":"flowspec","rule":"destination 203.0.113.10/32; protocol udp; source-port 53","command":"","appliedAt":null,"withdrawnAt":null,"dropped":null,"state":"pending","dryRun":false,"attempts":2,"error":"ExaBGP did not acknowledge"}""",
            MitigationJson.Line(action));
    }

    [Fact]
    public void ParsePorts_WhatPortsWrote_ReadsBackTheSameRates()
    {
        PortRate[] ports = [new("udp", 123, 5_000.5), new("tcp", 443, 1)];

        Assert.Equal(ports, IncidentJson.ParsePorts(IncidentJson.Ports(ports)));
        Assert.Empty(IncidentJson.ParsePorts(string.Empty));
    }
}
