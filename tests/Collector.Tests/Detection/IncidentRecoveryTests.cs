using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Detection;

/// <summary>
/// A real collector under NetFlow v5 from a loopback sender: incidents through /api/incidents and /metrics, then
/// kill -9 in the middle of two attacks and a restart on the same data directory.
/// </summary>
public sealed class IncidentRecoveryTests
{
    private const string Continuing = "203.0.113.10";
    private const string Ending = "203.0.113.20";

    private static readonly string[] Settings =
    [
        "--monitor", "203.0.113.0/24", "--learning-seconds", "3", "--set", "ProcNetDev:Mode=off",
        "--set", "Detection:CooldownSeconds=4", "--set", "Storage:BaselineSaveSeconds=5",
    ];

    private volatile bool _floodContinuing;
    private volatile bool _floodEnding;

    private List<Flow> Traffic()
    {
        var flows = new List<Flow>
        {
            new("198.51.100.20", Continuing, 6, 40_000, 443, 150, 900, 0x10),
            new("198.51.100.21", Continuing, 17, 50_000, 4500, 50, 300),
            new("198.51.100.20", Ending, 6, 40_001, 443, 150, 900, 0x10),
            new("198.51.100.21", Ending, 17, 50_001, 4500, 50, 300),
        };
        for (var i = 0; i < 8; i++)
        {
            if (_floodContinuing)
            {
                flows.Add(new Flow($"192.0.2.{100 + i}", Continuing, 17, 53, (ushort)(20_000 + i), 800, 1_200));
            }

            if (_floodEnding)
            {
                flows.Add(new Flow($"192.0.2.{120 + i}", Ending, 17, 53, (ushort)(21_000 + i), 800, 1_200));
            }
        }

        return flows;
    }

    [Fact]
    public async Task Run_AfterKill9_ResumesTheContinuingIncidentAndClosesTheEndedOne()
    {
        await using var exporter = new ExporterRun("flowcollector-recovery-", Traffic);
        var (data, port) = (exporter.Data, exporter.Port);
        await using var first = await CollectorProcess.StartAsync(data, port, Settings);
        // Learn the normal mix, then both hosts come under DNS amplification (6,400 pps each).
        await first.WaitForCalibratedAsync();
        _floodContinuing = _floodEnding = true;
        var open = await WaitForAsync(first, "/api/incidents?open=true", incidents => incidents.Count(i => i.GetProperty("keyKind").GetString() == "destination") == 2);

        var continuing = open.Single(i => i.GetProperty("address").GetString() == Continuing);
        Assert.Equal("dns_amplification", continuing.GetProperty("attackType").GetString());
        Assert.Equal(JsonValueKind.Null, continuing.GetProperty("closedAt").ValueKind);
        foreach (var field in new[] { "id", "keyKind", "node", "interface", "direction", "address", "attackType", "confidence", "severity", "openedAt", "closedAt", "peakPps", "peakBps", "threshold", "topSourcePorts" })
        {
            Assert.True(continuing.TryGetProperty(field, out _), $"/api/incidents lacks {field}: {continuing}");
        }


        // The first second was only partly under attack; a full one follows.
        continuing = (await WaitForAsync(first, "/api/incidents?open=true", incidents => incidents.Any(i => i.GetProperty("address").GetString() == Continuing && i.GetProperty("peakPps").GetDouble() >= 6_000)))
            .Single(i => i.GetProperty("address").GetString() == Continuing);
        Assert.InRange(continuing.GetProperty("peakPps").GetDouble(), 6_000, 7_500);
        var metrics = await first.GetAsync("/metrics");
        Assert.True(OpenGauge(metrics, "dns_amplification") >= 2, metrics);
        Assert.DoesNotContain("flowcollector_incidents_open{type=\"syn_flood\"}", metrics, StringComparison.Ordinal);

        // Let a baseline save happen, then kill -9 while both are open; one attack goes on, the other ends with it.
        await Eventually.True(() => Task.FromResult(SavedBaselines(data.FullName) > 0), "a baseline save");
        await first.KillHardAsync();
        _floodEnding = false;
        var stored = Incidents(data.FullName, "--open");
        var continuingId = stored.Single(i => i.GetProperty("address").GetString() == Continuing).GetProperty("id").GetInt64();
        var endingId = stored.Single(i => i.GetProperty("address").GetString() == Ending).GetProperty("id").GetInt64();

        await using var second = await CollectorProcess.StartAsync(data, port, Settings);
        await WaitForAsync(second, "/api/incidents", incidents => incidents.Any(i => i.GetProperty("id").GetInt64() == endingId && i.GetProperty("closedAt").ValueKind != JsonValueKind.Null));
        Assert.Contains("detector resumed", second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("resumed 0 saved baselines", second.Output, StringComparison.Ordinal);

        var afterRestart = await Get(second, "/api/incidents");
        var ended = afterRestart.Single(i => i.GetProperty("id").GetInt64() == endingId);
        Assert.Equal("restart", ended.GetProperty("closeReason").GetString());
        var resumed = afterRestart.Single(i => i.GetProperty("id").GetInt64() == continuingId);
        Assert.Equal(JsonValueKind.Null, resumed.GetProperty("closedAt").ValueKind);

        // No second incident for the same attack on the same host.
        Assert.Single(afterRestart, i => i.GetProperty("address").GetString() == Continuing);

        // When the flood stops, the resumed incident closes after its cool-down, and its type's gauge reads 0.
        _floodContinuing = false;
        await WaitForAsync(second, "/api/incidents", incidents => incidents.Any(i => i.GetProperty("id").GetInt64() == continuingId && i.GetProperty("closeReason").GetString() == "calm"));
        await Eventually.True(async () => OpenGauge(await second.GetAsync("/metrics"), "dns_amplification") == 0, "the open-incident gauge reading 0");
        Assert.DoesNotContain(Incidents(data.FullName, "--open"), i => i.GetProperty("keyKind").GetString() == "destination");
    }

    private static double OpenGauge(string metrics, string type)
    {
        var prefix = $"flowcollector_incidents_open{{type=\"{type}\"}} ";
        var line = metrics.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    private static List<JsonElement> Incidents(string dataDirectory, params string[] extra)
    {
        var (exit, text, error) = Flowcollector.Run(["incidents", "--format", "jsonl", "--data-dir", dataDirectory, .. extra]);
        Assert.True(exit == 0, error);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }

    /// <summary>Baselines in the database, read as another process would while the collector runs.</summary>
    private static long SavedBaselines(string dataDirectory)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "flowcollector.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM baselines";
        return (long)command.ExecuteScalar()!;
    }

    private static async Task<List<JsonElement>> Get(CollectorProcess collector, string path)
    {
        using var document = JsonDocument.Parse(await collector.GetAsync(path));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static async Task<List<JsonElement>> WaitForAsync(CollectorProcess collector, string path, Func<List<JsonElement>, bool> condition)
    {
        List<JsonElement>? last = null;
        var reached = await Eventually.Within(async () => condition(last = await Get(collector, path)), 30, 200);
        Assert.True(reached, $"{path} did not reach the expected state in 30 s: {string.Join("\n", last ?? [])}\n{collector.Output}");
        return last!;
    }
}
