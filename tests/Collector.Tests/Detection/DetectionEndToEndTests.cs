using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Detection;

/// <summary>
/// Detection in real time, with real exporters: scenario traffic (a normal mix, then DNS amplification from the
/// 16th second) is sent into a network namespace where softflowd or pmacctd watch the veth and export to a running
/// collector. The export is captured on lo to know when the flood's first record reached the collector.
/// </summary>
public sealed class DetectionEndToEndTests(ITestOutputHelper output)
{
    private const string Victim = "203.0.113.10";

    public static TheoryData<string> Exporters() => ["softflowd-netflow9", "softflowd-ipfix", "pmacct-sflow"];

    [Theory]
    [MemberData(nameof(Exporters))]
    public async Task Run_FloodThroughARealExporter_OpensItsIncident(string exporter)
    {
        NetworkNamespaces.RequireAvailable();
        var tool = exporter.StartsWith("softflowd", StringComparison.Ordinal) ? "/usr/sbin/softflowd" : "/usr/sbin/pmacctd";
        Flowcollector.Require(File.Exists(tool), $"{tool} is not installed (apt-get install {(tool.EndsWith("softflowd", StringComparison.Ordinal) ? "softflowd" : "pmacct")})");
        Flowcollector.Require(File.Exists("/usr/bin/tcpdump"), "tcpdump is not installed (apt-get install tcpdump)");
        Flowcollector.Require(Directory.Exists("/usr/lib/python3/dist-packages/scapy"), "python3-scapy is not installed");

        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-e2e-");
        var port = exporter switch { "softflowd-ipfix" => "4739", "pmacct-sflow" => "6343", _ => "2055" };
        var processes = new List<Process>();
        try
        {
            processes.Add(NetworkNamespaces.StartDrained(
                namespaces.First,
                "dotnet", Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"), "run", "--data-dir", Path.Combine(work.FullName, "data"),
                "--http", "127.0.0.1:9750", "--monitor", "203.0.113.0/24", "--learning-seconds", "5", "--set", "ProcNetDev:Mode=off"));
            Eventually.TrueNow(() => File.Exists(Path.Combine(work.FullName, "data", "flowcollector.db")), "the collector's database");

            var capture = Path.Combine(work.FullName, "export.pcap");
            processes.Add(NetworkNamespaces.StartDrained(namespaces.First, "tcpdump", "-i", "lo", "-U", "-w", capture, "udp", "port", port));
            processes.Add(exporter switch
            {
                "pmacct-sflow" => NetworkNamespaces.StartDrained(namespaces.First, "pmacctd", "-f", PmacctConfig(work.FullName)),
                _ => NetworkNamespaces.StartDrained(
                    namespaces.First, "softflowd", "-D", "-i", NetworkNamespaces.FirstInterface, "-v", exporter.EndsWith("ipfix", StringComparison.Ordinal) ? "10" : "9",
                    "-n", $"127.0.0.1:{port}", "-t", "maxlife=1", "-t", "expint=1", "-c", Path.Combine(work.FullName, "ctl")),
            });
            await Task.Delay(TimeSpan.FromSeconds(2));

            var timelinePath = Path.Combine(work.FullName, "timeline.json");
            NetworkNamespaces.Run(
                namespaces.Second, "/usr/bin/python3", Path.Combine(Flowcollector.RepositoryRoot, "scripts", "scenario", "traffic.py"),
                "--iface", NetworkNamespaces.SecondInterface, "--timeline", timelinePath, "--normal-seconds", "15", "--flood-seconds", "6",
                "--flood", "dns_amplification", "--victim", Victim);

            // The exporter sends the flood's last records within its one-second expiry; the incident is read once stored.
            await Eventually.True(() => Task.FromResult(Incidents(Path.Combine(work.FullName, "data")).Any(i => i.GetProperty("keyKind").GetString() == "destination")), "the destination incident");

            using var timeline = JsonDocument.Parse(await File.ReadAllTextAsync(timelinePath));
            var floodStart = DateTimeOffset.FromUnixTimeMilliseconds((long)(timeline.RootElement.GetProperty("floodStart").GetDouble() * 1000));
            var incidents = Incidents(Path.Combine(work.FullName, "data"));
            var arrival = FirstFloodRecordArrival(capture);

            var incident = Assert.Single(incidents, i => i.GetProperty("keyKind").GetString() == "destination");
            Assert.Equal(Victim, incident.GetProperty("address").GetString());
            Assert.Equal("dns_amplification", incident.GetProperty("attackType").GetString());
            Assert.InRange(incident.GetProperty("confidence").GetDouble(), 0.8, 1.0);
            Assert.Contains(incident.GetProperty("topSourcePorts").EnumerateArray(), p => p.GetProperty("port").GetInt32() == 53);
            var opened = incident.GetProperty("openedAt").GetDateTimeOffset();
            // The table names the type as the JSON, the API and the alerts do.
            var (tableExit, table, _) = Flowcollector.Run("incidents", "--data-dir", Path.Combine(work.FullName, "data"));
            Assert.Equal(0, tableExit);
            Assert.Matches($@"(?m)^\s+{incident.GetProperty("id").GetInt64()}\s.*\sdns_amplification\s", table);

            // Nothing alarmed during the normal quarter minute before the flood.
            Assert.All(incidents, i => Assert.True(i.GetProperty("openedAt").GetDateTimeOffset() >= arrival, $"false alarm before the flood: {i}"));
            var latency = opened - arrival;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{exporter}: flood sent {floodStart:HH:mm:ss.fff}, first flood record at the collector {arrival:HH:mm:ss.fff}, incident opened {opened:HH:mm:ss.fff}: {latency.TotalSeconds:F2} s after arrival, {(opened - floodStart).TotalSeconds:F2} s after the flood began"));
            // A generous bound, so that a loaded machine cannot fail it: the latency itself is measured in BENCHMARKS.md.
            Assert.InRange(latency, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        }
        finally
        {
            foreach (var process in Enumerable.Reverse(processes))
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            work.Delete(recursive: true);
        }
    }

    private static string PmacctConfig(string directory)
    {
        var path = Path.Combine(directory, "pmacctd.conf");
        File.WriteAllText(path, $"daemonize: false\npcap_interface: {NetworkNamespaces.FirstInterface}\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:6343\nsfprobe_agentip: 192.0.2.10\nsampling_rate: 1\n");
        return path;
    }

    private static List<JsonElement> Incidents(string dataDirectory)
    {
        var (exit, text, error) = Flowcollector.Run("incidents", "--format", "jsonl", "--data-dir", dataDirectory);
        Assert.True(exit == 0, error);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }

    /// <summary>When the first record of the flood (from a reflector, source port 53) reached the collector's port.</summary>
    private static DateTimeOffset FirstFloodRecordArrival(string capture)
    {
        var (exit, text, error) = Flowcollector.Run("decode", capture, "--format", "Jsonl");
        Assert.True(exit == 0, error);
        var first = text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone())
            .First(r => r.GetProperty("srcPort").GetInt32() == 53 && r.GetProperty("src").GetString()!.StartsWith("192.0.2.1", StringComparison.Ordinal) && r.GetProperty("dst").GetString() == Victim);
        return first.GetProperty("time").GetDateTimeOffset();
    }
}
