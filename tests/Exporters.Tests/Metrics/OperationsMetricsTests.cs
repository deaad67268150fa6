using System.Text;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Metrics;

namespace FlowCollector.Exporters.Tests.Metrics;

/// <summary>The series the shipped dashboards and alert rules read beyond the traffic: incidents, mitigation, build.</summary>
public sealed class OperationsMetricsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    private static async Task<string[]> Scrape(CollectorMetrics metrics)
    {
        using var body = new MemoryStream();
        await metrics.ExportAsync(body, CancellationToken.None);
        return Encoding.UTF8.GetString(body.ToArray()).Split('\n');
    }

    private static IncidentRecord Open(long id, Severity severity, DateTimeOffset openedAt) => new()
    {
        Id = id,
        Key = $"destination/203.0.113.{id}",
        KeyKind = KeyKind.Destination,
        Node = "edge-1",
        AttackType = AttackType.UdpFlood,
        Confidence = 0.9,
        Severity = severity,
        OpenedAt = openedAt,
        UpdatedAt = Now,
        FirstSecond = openedAt.ToUnixTimeSeconds(),
        PeakPps = 1,
        PeakBps = 1,
        CurrentPps = 1,
        CurrentBps = 1,
        Threshold = 1,
        ThresholdMetric = DetectionMetric.Pps,
    };

    [Fact]
    public async Task RecordIncidents_OpenOnes_CountedBySeverityWithTheOldestsAge()
    {
        var metrics = new CollectorMetrics("edge-1");
        metrics.RecordIncidents([Open(1, Severity.High, Now.AddMinutes(-40)), Open(2, Severity.High, Now.AddSeconds(-5)), Open(3, Severity.Low, Now)], Now);
        var lines = await Scrape(metrics);

        Assert.Contains("flowcollector_incidents_open_by_severity{severity=\"high\"} 2", lines);
        Assert.Contains("flowcollector_incidents_open_by_severity{severity=\"low\"} 1", lines);
        Assert.Contains("flowcollector_incidents_open_by_severity{severity=\"critical\"} 0", lines);
        Assert.Contains("flowcollector_incidents_longest_open_seconds 2400", lines);

        metrics.RecordIncidents([], Now);
        lines = await Scrape(metrics);
        Assert.Contains("flowcollector_incidents_open_by_severity{severity=\"high\"} 0", lines);
        Assert.Contains("flowcollector_incidents_longest_open_seconds 0", lines);
    }

    [Fact]
    public async Task RecordMitigation_WithoutExaBgp_PublishesNoConnectionToBeDown()
    {
        var metrics = new CollectorMetrics("edge-1");
        metrics.RecordBuild("1.2.3");
        metrics.RecordMitigation(new Dictionary<string, long>(), exabgpConnected: null, activeActions: 3, enabled: true);
        var lines = await Scrape(metrics);

        Assert.DoesNotContain(lines, l => l.StartsWith("flowcollector_exabgp_connected ", StringComparison.Ordinal));
        Assert.Contains("flowcollector_mitigation_active_actions 3", lines);
        Assert.Contains("flowcollector_mitigation_enabled 1", lines);
        Assert.Contains("flowcollector_build_info{version=\"1.2.3\"} 1", lines);

        metrics.RecordMitigation(new Dictionary<string, long>(), exabgpConnected: false, activeActions: 0, enabled: false);
        lines = await Scrape(metrics);
        Assert.Contains("flowcollector_exabgp_connected 0", lines);
        Assert.Contains("flowcollector_mitigation_enabled 0", lines);
    }
}
