using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>A full table or discarded input is logged when it starts and then at most once a minute, with what was lost.</summary>
public sealed class LimitWarningsTests
{
    [Fact]
    public void Due_FirstGrowthThenOnceAMinute_WithWhatWasLostSince()
    {
        var warnings = new CapacityWarnings(new CollectorOptions(), NullLogger.Instance);

        Assert.False(warnings.Due("exporters", 0, 100, out _));
        Assert.True(warnings.Due("exporters", 5, 101, out var lost));
        Assert.Equal(5, lost);
        Assert.False(warnings.Due("exporters", 50, 130, out _));
        Assert.True(warnings.Due("templates", 1, 130, out _));
        Assert.True(warnings.Due("exporters", 80, 161, out lost));
        Assert.Equal(75, lost);
        Assert.False(warnings.Due("exporters", 80, 400, out _));
    }

    [Fact]
    public async Task Run_FullExporterTable_IsLoggedWithWhatToDo()
    {
        await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off", "--set", "Decoder:MaxExporters=2");
        Flow[] web = [new Flow("198.51.100.20", "203.0.113.10", 6, 40_000, 443, 150, 900, 0x10)];
        foreach (var address in new[] { "127.0.7.1", "127.0.7.2" })
        {
            // Each is productive (its record decoded) before the next arrives: a sender that never delivered a record
            // would rightly make room for a new one (the listeners' threads may take them in any order).
            using var sender = new NetFlowV5Sender(collector.NetFlowPort, address);
            sender.SendOnce(web);
            Assert.Equal(1, await collector.WaitForMetricAsync("flowcollector_exporter_records_total", 1, TimeSpan.FromSeconds(30), ("exporter", address)));
        }

        using (var third = new NetFlowV5Sender(collector.NetFlowPort, "127.0.7.3"))
        {
            third.SendOnce(web);
        }

        await Eventually.Until(() => collector.Output.Contains("the exporter table is full (2 exporters", StringComparison.Ordinal) ? "said" : null, "the warning");
        Assert.Contains("Listeners:AllowedExporters keeps forged senders out", collector.Output, StringComparison.Ordinal);
        Assert.Equal(1, await collector.MetricAsync("flowcollector_exporters_rejected_total"));
    }
}
