using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Mitigation;

/// <summary>
/// Mitigation never acts on what anyone could send, never harms a file it does not own, and says when an operator's
/// request did not happen. Real collector processes; the announcements they would make are recorded, with no
/// ExaBGP listening (the ExaBGP tests cover the peer).
/// </summary>
public sealed class MitigationSafetyTests
{
    private static IReadOnlyList<Flow> Attack(string victim) =>
    [
        new Flow("198.51.100.20", victim, 6, 40_000, 443, 150, 900, 0x10),
        .. Enumerable.Range(0, 8).Select(i => new Flow($"192.0.2.{100 + i}", victim, 17, 53, (ushort)(20_000 + i), 3_000, 1_200)),
    ];

    private static string Config(string directory, string extra)
    {
        var path = Path.Combine(directory, "flowcollector.json");
        File.WriteAllText(path, $$"""
            {
              "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
              "ProcNetDev": { "Mode": "off" },
              "Detection": { "LearningSeconds": 3, "CooldownSeconds": 3 },
              "Mitigation": {
                "Enabled": true,
                "Policy": { "Low": [ "flowspec" ], "Medium": [ "flowspec" ], "High": [ "flowspec" ], "Critical": [ "flowspec" ] },
                "ExaBgp": { "Socket": "{{Path.Combine(directory, "exabgp.sock")}}" }
              }{{extra}}
            }
            """);
        return path;
    }

    private static async Task<List<JsonElement>> Get(CollectorProcess collector, string path)
    {
        using var document = JsonDocument.Parse(await collector.GetAsync(path));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    [Fact]
    public async Task Run_ForgedExportsFromAnotherAddress_OpenAndPlanNothing()
    {
        var forger = "127.0.66.1";
        await using var forged = new ExporterRun("flowcollector-forged-", () => Attack("203.0.113.10"), forger);
        var config = Config(forged.Data.FullName, """, "Listeners": { "AllowedExporters": [ "127.0.0.1" ] }""");
        await using var collector = await CollectorProcess.StartAsync(forged.Data, forged.Port, "--config", config);

        // Eight seconds of a 24,000 pps DNS amplification, forged: counted as rejected, judged not at all.
        await Eventually.Holds(async () => (await Get(collector, "/api/incidents")).Count == 0, "no incident", 8);
        Assert.True(await collector.MetricAsync("flowcollector_listener_rejected_total", ("listener", "netflow")) >= 50);
        Assert.Empty(await Get(collector, "/api/mitigations"));
        Assert.Equal(0, await collector.MetricAsync("flowcollector_exporter_records_total"));

        // The same attack from the allowed exporter: an incident, and the FlowSpec rule it plans.
        using var router = new NetFlowV5Sender(forged.Port);
        using var stop = new CancellationTokenSource();
        var sending = router.RunAsync(() => Attack("203.0.113.20"), stop.Token);
        var actions = await Eventually.Until(async () => await Get(collector, "/api/mitigations") is { Count: > 0 } list ? list : null, "the allowed exporter's attack mitigated");
        await stop.CancelAsync();
        await sending;
        Assert.Contains("destination 203.0.113.20/32", Assert.Single(actions).GetProperty("rule").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(await Get(collector, "/api/incidents"), i => i.GetProperty("address").GetString() == "203.0.113.10");
    }

    [Fact]
    public void Run_MitigationWithAnyExporter_DoesNotStart()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-unsafe-");
        try
        {
            var config = Config(directory.FullName, string.Empty);
            var (exit, _, error) = Flowcollector.Run("run", "--config", config, "--data-dir", directory.FullName, "--http", "127.0.0.1:0");

            Assert.Equal(78, exit);
            Assert.Contains("Mitigation:Enabled: any host can send exports", error, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(directory.FullName, "flowcollector.db")));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Run_SomethingAtTheExaBgpSocketPath_IsLeftAloneUnlessADeadSocket()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-socket-");
        try
        {
            var config = Config(directory.FullName, """, "Listeners": { "AllowedExporters": [ "127.0.0.1" ] }""");
            var socket = Path.Combine(directory.FullName, "exabgp.sock");
            string[] run = ["run", "--config", config, "--data-dir", Path.Combine(directory.FullName, "data"), "--http", "127.0.0.1:0", "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0"];

            // An operator's file where the socket would go: not deleted, and named.
            await File.WriteAllTextAsync(socket, "keep me");
            var (exit, _, error) = Flowcollector.Run(run);
            Assert.Equal(69, exit);
            Assert.Contains($"Mitigation:ExaBgp:Socket: {socket} exists and is not a socket", error, StringComparison.Ordinal);
            Assert.Equal("keep me", await File.ReadAllTextAsync(socket));

            // A socket somebody listens on: not taken over.
            File.Delete(socket);
            using (var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                listener.Bind(new UnixDomainSocketEndPoint(socket));
                listener.Listen(1);
                (exit, _, error) = Flowcollector.Run(run);
                Assert.Equal(69, exit);
                Assert.Contains("another process (another flowcollector?) listens on", error, StringComparison.Ordinal);
            }

            // The socket of a run that was killed (nobody listens any more) is replaced.
            await using var collector = await CollectorProcess.StartAsync(new DirectoryInfo(Path.Combine(directory.FullName, "data")), null, "--config", config);
            using var health = await collector.Client.GetAsync(new Uri("/healthz", UriKind.Relative));
            Assert.Contains("\"exabgp\":\"disconnected\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Single(Directory.GetFileSystemEntries(directory.FullName, "exabgp.sock"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void MitigationsWithdraw_NoCollectorCarriesItOut_ExitsWith75()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-withdraw-");
        try
        {
            var database = Path.Combine(directory.FullName, "flowcollector.db");
            Assert.True(IncidentStore.TryOpen(database, out var store, out var openError), openError);
            long id;
            using (store)
            {
                var incident = new FlowCollector.Detection.Incidents.IncidentRecord
                {
                    Id = 1, Key = "destination/203.0.113.10", KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination, Node = "edge-1", Address = "203.0.113.10", AttackType = FlowCollector.Detection.Incidents.AttackType.UdpFlood,
                    Confidence = 1, Severity = FlowCollector.Detection.Incidents.Severity.High, OpenedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, FirstSecond = 0,
                    PeakPps = 1, PeakBps = 8, CurrentPps = 1, CurrentBps = 8, Threshold = 1, ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
                };
                id = store!.AddAction(new MitigationAction { IncidentId = 1, Kind = ActionKind.FlowSpec, Rule = "destination 203.0.113.10/32", State = ActionState.Applied, AppliedAt = DateTimeOffset.UtcNow }, incident);
            }

            var (exit, _, error) = Flowcollector.Run("mitigations", "withdraw", id.ToString(CultureInfo.InvariantCulture), "--wait", "1", "--data-dir", directory.FullName);

            Assert.Equal(75, exit);
            Assert.Contains("still in force", error, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
