using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Capture;
using FlowCollector.Collector.Tests.Support;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Tests.Capture;

/// <summary>
/// Packet evidence with real parts in network namespaces the test creates: scenario traffic (a normal mix, then a
/// flood) sent over a veth pair into the namespace where the collector runs, captured there by libpcap (a SPAN
/// port) or sampled by pmacctd's sFlow agent, or counted by /proc/net/dev on a router.
/// </summary>
public sealed class PacketEvidenceNamespaceTests(ITestOutputHelper output)
{
    private const string Victim = "203.0.113.10";
    private const string Bystander = "203.0.113.20";
    private const string RouterVictim = "192.0.2.77";

    public static TheoryData<string, string, string> Floods() => new()
    {
        { "udp_flood", "udp_flood", "meta l4proto udp" },
        { "syn_flood", "syn_flood", "tcp flags" },
        { "dns_amplification", "dns_amplification", "udp sport 53" },
    };

    [Theory]
    [MemberData(nameof(Floods))]
    public async Task RouterMode_FloodOnTheVeth_IsSampledNamedAndDroppedForItsVictim(string flood, string expectedType, string signature)
    {
        RequireTools();
        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-router-");
        var processes = new List<Process>();
        try
        {
            var config = Path.Combine(work.FullName, "flowcollector.json");
            await File.WriteAllTextAsync(config, """{ "Mitigation": { "Enabled": true, "Policy": { "Low": [ "nftables" ], "Medium": [ "nftables" ], "High": [ "nftables" ], "Critical": [ "nftables" ] } } }""", TestContext.Current.CancellationToken);
            var data = Path.Combine(work.FullName, "data");
            processes.Add(Collector(
                namespaces.First, data, "--config", config, "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0", "--monitor", "192.0.2.0/24",
                "--set", "ProcNetDev:Mode=on", "--set", "Detection:LearningFloors:Interface:Pps=1500", "--set", "Detection:CooldownSeconds=3",
                "--set", "Capture:Sample:FollowSeconds=1"));
            Eventually.TrueNow(() => File.Exists(Path.Combine(data, "flowcollector.db")), "the collector's database");

            var timelinePath = Path.Combine(work.FullName, "timeline.json");
            var traffic = Task.Run(() => Traffic(namespaces.Second, timelinePath, flood, RouterVictim, normalSeconds: 3, floodSeconds: 6));

            // The rule for the victim and the signature appears in the namespace while the flood goes on.
            var rule = await Eventually.Until(
                () => Nft(namespaces.First).Split('\n').FirstOrDefault(l => l.Contains($"ip daddr {RouterVictim}", StringComparison.Ordinal) && l.Contains(signature, StringComparison.Ordinal)),
                $"an nftables rule for {RouterVictim} with {signature}",
                seconds: 20);
            await traffic;

            var incident = Assert.Single(Incidents(data), i => i.GetProperty("keyKind").GetString() == "interface");
            output.WriteLine(incident.ToString());
            output.WriteLine(rule);
            Assert.Equal("procnetdev", incident.GetProperty("source").GetString());
            Assert.Equal(NetworkNamespaces.FirstInterface, incident.GetProperty("interface").GetString());
            Assert.Equal(expectedType, incident.GetProperty("attackType").GetString());
            Assert.InRange(incident.GetProperty("confidence").GetDouble(), 0.8, 1.0);
            Assert.Equal(RouterVictim, incident.GetProperty("address").GetString());
            Assert.Equal(RouterVictim, incident.GetProperty("victims")[0].GetProperty("address").GetString());
            Assert.NotEmpty(incident.GetProperty("topSources").EnumerateArray());
            Assert.Contains($"incident {incident.GetProperty("id").GetInt64()}", rule, StringComparison.Ordinal);

            using var timeline = JsonDocument.Parse(await File.ReadAllTextAsync(timelinePath, TestContext.Current.CancellationToken));
            var floodStart = DateTimeOffset.FromUnixTimeMilliseconds((long)(timeline.RootElement.GetProperty("floodStart").GetDouble() * 1000));
            Assert.True(incident.GetProperty("openedAt").GetDateTimeOffset() >= floodStart, "no incident before the flood");

            // The victim was followed while the flood lasted (a sample a second), and the samples stop once the
            // incident has closed.
            Assert.True(Samples(namespaces.First) >= 3, $"{Samples(namespaces.First)} samples of a 6 s flood");
            await IncidentWhen(data, i => i.GetProperty("keyKind").GetString() == "interface" && i.GetProperty("closedAt").ValueKind != JsonValueKind.Null, "the incident closed", seconds: 20);

            // A sample under way when it closed still ends (300 ms); none starts after.
            await Task.Delay(TimeSpan.FromSeconds(1.5), TestContext.Current.CancellationToken);
            var afterClose = Samples(namespaces.First);
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            Assert.Equal(afterClose, Samples(namespaces.First));

            // The samples' frames are the incident's packets: all of them to the victim.
            var closed = await IncidentWhen(data, i => i.GetProperty("keyKind").GetString() == "interface" && i.GetProperty("pcap") is { ValueKind: JsonValueKind.Object } p && p.GetProperty("note").GetString() != "recording", "the incident's pcap");
            var pcap = closed.GetProperty("pcap");
            Assert.True(pcap.GetProperty("packets").GetInt64() > 500, pcap.ToString());
            Assert.True(CaptureFile.TryOpen(pcap.GetProperty("path").GetString()!, out var capture, out var error), error);
            using (capture)
            {
                while (capture!.TryReadNext(out var frame, out _, out var wireLength))
                {
                    Assert.True(PacketFlows.TryDecodeMirrored(frame, capture.LinkType, wireLength, 0, out var packet));
                    Assert.Equal(RouterVictim, packet.DestinationAddress.ToString());
                }
            }
        }
        finally
        {
            await Stop(processes);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RouterMode_WithoutCapNetRaw_SaysSoAtStartUpAndKeepsTheIncidentUnknown()
    {
        RequireTools();
        Flowcollector.Require(File.Exists("/usr/bin/setpriv"), "setpriv is not installed (util-linux)");
        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-router-");
        var processes = new List<Process>();
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        try
        {
            var data = Path.Combine(work.FullName, "data");
            processes.Add(Collector(
                namespaces.First, data, log, ["/usr/bin/setpriv", "--bounding-set", "-net_raw", "--"],
                "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0", "--set", "ProcNetDev:Mode=on", "--set", "Detection:LearningFloors:Interface:Pps=1500"));
            await Eventually.True(() => Task.FromResult(log.Any(l => l.Contains("lacks CAP_NET_RAW", StringComparison.Ordinal))), "the start-up warning about CAP_NET_RAW");

            Traffic(namespaces.Second, Path.Combine(work.FullName, "timeline.json"), "udp_flood", RouterVictim, normalSeconds: 2, floodSeconds: 3);
            var incident = await IncidentWhen(data, i => i.GetProperty("keyKind").GetString() == "interface", "the interface incident");

            Assert.Equal("unknown", incident.GetProperty("attackType").GetString());
            Assert.Equal(JsonValueKind.Null, incident.GetProperty("address").ValueKind);
        }
        finally
        {
            await Stop(processes);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SpanWithRing_FloodOnAHost_ItsPcapHoldsOnlyTheVictimFromBeforeTheIncidentAndIsServed()
    {
        RequireTools();
        Flowcollector.Require(File.Exists("/usr/bin/tshark"), "tshark is not installed (apt-get install tshark)");
        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-ring-");
        var processes = new List<Process>();
        try
        {
            var data = Path.Combine(work.FullName, "data");
            processes.Add(Collector(
                namespaces.First, data, "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0", "--monitor", "203.0.113.0/24", "--learning-seconds", "4",
                "--set", "ProcNetDev:Mode=off", "--set", $"Capture:Interfaces:0={NetworkNamespaces.FirstInterface}", "--set", "Capture:Ring:Enabled=true",
                "--set", "Detection:CooldownSeconds=2"));
            Eventually.TrueNow(() => File.Exists(Path.Combine(data, "flowcollector.db")), "the collector's database");

            // A bystander's ordinary traffic crosses the same port all along; only the victim is flooded.
            var bystander = Task.Run(() => Traffic(namespaces.Second, Path.Combine(work.FullName, "bystander.json"), "udp_flood", Bystander, normalSeconds: 12, floodSeconds: 0, normalPps: 100));
            Traffic(namespaces.Second, Path.Combine(work.FullName, "timeline.json"), "udp_flood", Victim, normalSeconds: 7, floodSeconds: 4);
            await bystander;

            var incident = await IncidentWhen(data, HasFinishedPcap, "the incident's finished pcap", seconds: 40);
            output.WriteLine(incident.ToString());
            Assert.Equal(Victim, incident.GetProperty("address").GetString());
            var pcap = incident.GetProperty("pcap");
            var path = pcap.GetProperty("path").GetString()!;
            var packets = pcap.GetProperty("packets").GetInt64();
            Assert.Equal(JsonValueKind.Null, pcap.GetProperty("note").ValueKind);
            Assert.Equal(Path.Combine(data, "incidents", $"{incident.GetProperty("id").GetInt64()}.pcap"), path);

            // Read back by tshark: as many frames as the incident says, every one to or from the victim, the first
            // from before the incident opened.
            var (exit, text, error) = Run("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst");
            Assert.True(exit == 0, error);
            var frames = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
            Assert.Equal(packets, frames.Count);
            Assert.True(packets > 1000, $"only {packets} frames");
            Assert.All(frames, f => Assert.True(f[1] == Victim || f[2] == Victim, string.Join(' ', f)));
            var first = DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(frames[0][0], CultureInfo.InvariantCulture) * 1000));
            Assert.True(first < incident.GetProperty("openedAt").GetDateTimeOffset().AddSeconds(-1), $"first frame {first:O} is not from before the incident opened");
            Assert.Equal(first, pcap.GetProperty("firstAt").GetDateTimeOffset(), TimeSpan.FromMilliseconds(1));

            // The same bytes from the API and from the command line.
            var id = incident.GetProperty("id").GetInt64();
            var served = Path.Combine(work.FullName, "served.pcap");
            NetworkNamespaces.Run(namespaces.First, "/usr/bin/python3", "-c",
                $"import urllib.request\nr = urllib.request.urlopen('http://127.0.0.1:9750/api/incidents/{id}/pcap')\nassert r.headers['Content-Type'] == 'application/vnd.tcpdump.pcap', r.headers['Content-Type']\nopen('{served}', 'wb').write(r.read())");
            Assert.Equal(await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken), await File.ReadAllBytesAsync(served, TestContext.Current.CancellationToken));
            var copied = Path.Combine(work.FullName, "copied.pcap");
            var (copyExit, _, copyError) = Flowcollector.Run("pcap", id.ToString(CultureInfo.InvariantCulture), "-o", copied, "--data-dir", data);
            Assert.True(copyExit == 0, copyError);
            Assert.Equal(await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken), await File.ReadAllBytesAsync(copied, TestContext.Current.CancellationToken));
            var (missingExit, _, missingError) = Flowcollector.Run("pcap", "999", "--data-dir", data);
            Assert.Equal(1, missingExit);
            Assert.Contains("incident 999 has no pcap", missingError, StringComparison.Ordinal);
        }
        finally
        {
            await Stop(processes);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SFlowWithRing_Amplification_ItsPcapIsTheSampledHeadersOfTheVictim()
    {
        RequireTools();
        Flowcollector.Require(File.Exists("/usr/sbin/pmacctd"), "pmacct is not installed (apt-get install pmacct)");
        Flowcollector.Require(File.Exists("/usr/bin/tcpdump"), "tcpdump is not installed (apt-get install tcpdump)");
        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-sflow-ring-");
        var processes = new List<Process>();
        try
        {
            var data = Path.Combine(work.FullName, "data");
            processes.Add(Collector(
                namespaces.First, data, "--monitor", "203.0.113.0/24", "--learning-seconds", "4",
                "--set", "ProcNetDev:Mode=off", "--set", "Capture:Ring:Enabled=true", "--set", "Detection:CooldownSeconds=2"));
            Eventually.TrueNow(() => File.Exists(Path.Combine(data, "flowcollector.db")), "the collector's database");
            var export = Path.Combine(work.FullName, "export.pcap");
            processes.Add(NetworkNamespaces.StartDrained(namespaces.First, "tcpdump", "-i", "lo", "-U", "-w", export, "udp", "port", "6343"));
            var pmacct = Path.Combine(work.FullName, "pmacctd.conf");
            await File.WriteAllTextAsync(pmacct, $"daemonize: false\npcap_interface: {NetworkNamespaces.FirstInterface}\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:6343\nsfprobe_agentip: 192.0.2.10\nsampling_rate: 1\n", TestContext.Current.CancellationToken);
            processes.Add(NetworkNamespaces.StartDrained(namespaces.First, "pmacctd", "-f", pmacct));
            await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);

            Traffic(namespaces.Second, Path.Combine(work.FullName, "timeline.json"), "dns_amplification", Victim, normalSeconds: 6, floodSeconds: 4, floodPps: 3000);
            var incident = await IncidentWhen(data, HasFinishedPcap, "the incident's finished pcap", seconds: 40);
            output.WriteLine(incident.ToString());
            Assert.Equal("dns_amplification", incident.GetProperty("attackType").GetString());
            var path = incident.GetProperty("pcap").GetProperty("path").GetString()!;

            // What the agent sent: each flow sample's header of a packet to or from the victim, with its length.
            await Stop(processes.Skip(1).ToList());
            var sampled = SampledHeaders(export).Where(h => h.Flow.DestinationAddress.ToString() == Victim || h.Flow.SourceAddress.ToString() == Victim).ToList();
            var written = new List<(byte[] Frame, int WireLength)>();
            Assert.True(CaptureFile.TryOpen(path, out var capture, out var error), error);
            using (capture)
            {
                while (capture!.TryReadNext(out var frame, out _, out var wireLength))
                {
                    written.Add((frame.ToArray(), wireLength));
                }
            }

            output.WriteLine($"{written.Count} frames in the pcap, {sampled.Count} sampled headers of the victim in the export");
            var headers = sampled.Select(h => (Convert.ToHexString(h.Header), (int)h.FrameLength)).ToHashSet();
            Assert.All(written, w => Assert.Contains((Convert.ToHexString(w.Frame), w.WireLength), headers));
            // The export's capture on lo may miss the last datagrams (tcpdump is stopped by a signal): the pcap may
            // hold a few more than it, never a different header.
            Assert.InRange(written.Count, sampled.Count * 0.95, sampled.Count * 1.01);
        }
        finally
        {
            await Stop(processes);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Ring_OnAnInterfaceThatDoesNotExist_IsLoggedAndDetectionGoesOn()
    {
        NetworkNamespaces.RequireAvailable();
        using var namespaces = NetworkNamespaces.Create();
        var work = Directory.CreateTempSubdirectory("flowcollector-ring-");
        var processes = new List<Process>();
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        try
        {
            var data = Path.Combine(work.FullName, "data");
            processes.Add(Collector(
                namespaces.First, data, log, [], "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0",
                "--set", "ProcNetDev:Mode=on", "--set", "Capture:Ring:Enabled=true", "--set", "Capture:Ring:Interfaces:0=nosuch0"));
            await Eventually.True(() => Task.FromResult(log.Any(l => l.Contains("Capture:Ring:Interfaces: no interface named 'nosuch0'", StringComparison.Ordinal))), "the log line naming the missing interface");
            await Eventually.True(() => Task.FromResult(Health(namespaces.First) is { } health && health.Contains("\"status\":\"ok\"", StringComparison.Ordinal)), "/healthz ok");
        }
        finally
        {
            await Stop(processes);
            work.Delete(recursive: true);
        }
    }

    private static void RequireTools()
    {
        NetworkNamespaces.RequireAvailable();
        Flowcollector.Require(File.Exists("/usr/sbin/nft"), "nftables is not installed (apt-get install nftables)");
        Flowcollector.Require(Directory.Exists("/usr/lib/python3/dist-packages/scapy"), "python3-scapy is not installed");
    }

    private static Process Collector(string space, string data, params string[] arguments) => Collector(space, data, null, [], arguments);

    private static Process Collector(string space, string data, System.Collections.Concurrent.ConcurrentQueue<string>? log, string[] wrapper, params string[] arguments)
    {
        var process = NetworkNamespaces.Start(space, [.. wrapper, "dotnet", Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"), "run", "--data-dir", data, "--http", "127.0.0.1:9750", .. arguments]);
        process.OutputDataReceived += (_, line) => log?.Enqueue(line.Data ?? string.Empty);
        process.ErrorDataReceived += (_, line) => log?.Enqueue(line.Data ?? string.Empty);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task Stop(List<Process> processes)
    {
        foreach (var process in Enumerable.Reverse(processes))
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }

        processes.Clear();
    }

    private static string Traffic(string space, string timeline, string flood, string victim, int normalSeconds, int floodSeconds, int normalPps = 300, int floodPps = 4000) =>
        NetworkNamespaces.Run(
            space, "/usr/bin/python3", Path.Combine(Flowcollector.RepositoryRoot, "scripts", "scenario", "traffic.py"),
            "--iface", NetworkNamespaces.SecondInterface, "--timeline", timeline, "--normal-seconds", normalSeconds.ToString(CultureInfo.InvariantCulture),
            "--flood-seconds", floodSeconds.ToString(CultureInfo.InvariantCulture), "--normal-pps", normalPps.ToString(CultureInfo.InvariantCulture),
            "--flood-pps", floodPps.ToString(CultureInfo.InvariantCulture), "--flood", flood, "--victim", victim);

    private static string Nft(string space)
    {
        try
        {
            return NetworkNamespaces.Run(space, "nft", "list", "table", "inet", "flowcollector");
        }
        catch (Xunit.Sdk.XunitException)
        {
            return string.Empty;
        }
    }

    /// <summary>Router mode's packet samples taken so far, from /metrics.</summary>
    private static double Samples(string space)
    {
        var metrics = NetworkNamespaces.Run(space, "/usr/bin/python3", "-c", "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9750/metrics').read().decode())");
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("flowcollector_packet_samples_total{outcome=\"described\"}", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    private static string? Health(string space)
    {
        try
        {
            return NetworkNamespaces.Run(space, "/usr/bin/python3", "-c", "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9750/healthz').read().decode())");
        }
        catch (Xunit.Sdk.XunitException)
        {
            return null;
        }
    }

    /// <summary>A destination incident whose pcap is complete (while frames are added its note says "recording").</summary>
    private static bool HasFinishedPcap(JsonElement incident) =>
        incident.GetProperty("keyKind").GetString() == "destination" && incident.GetProperty("pcap") is { ValueKind: JsonValueKind.Object } pcap && pcap.GetProperty("note").GetString() != "recording";

    private static async Task<JsonElement> IncidentWhen(string data, Func<JsonElement, bool> condition, string what, double seconds = 30)
    {
        var found = await Eventually.Until(() => Incidents(data).Where(condition).Select(i => new[] { i }).FirstOrDefault(), what, seconds);
        return found[0];
    }

    private static List<JsonElement> Incidents(string data)
    {
        var (exit, text, error) = Flowcollector.Run("incidents", "--format", "jsonl", "--data-dir", data);
        Assert.True(exit == 0, error);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
    }

    private static (int Exit, string Output, string Error) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, text.Result, error.Result);
    }

    /// <summary>The sampled headers in a capture of an sFlow export, each with the record it came with.</summary>
    private static List<(byte[] Header, uint FrameLength, FlowRecord Flow)> SampledHeaders(string path)
    {
        Assert.True(CaptureFile.TryOpen(path, out var capture, out var error), error);
        var decoder = new FlowDecoder();
        var sink = new HeaderSink();
        using (capture)
        {
            while (capture!.TryReadNext(out var frame, out var timestamp, out _))
            {
                PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
                if (header.Protocol == PacketHeaderParser.ProtocolUdp && header.HasTransport)
                {
                    decoder.Decode(frame.Slice(header.PayloadOffset, header.PayloadLength), header.SourceAddress, timestamp.ToUnixTimeMilliseconds(), ref sink);
                }
            }
        }

        return sink.Headers;
    }

    private struct HeaderSink() : IFlowSink
    {
        private FlowRecord _last;

        public List<(byte[] Header, uint FrameLength, FlowRecord Flow)> Headers { get; } = [];

        public void OnFlow(in FlowRecord flow) => _last = flow;

        public readonly void OnCounters(in InterfaceCounters counters)
        {
        }

        public readonly void OnSampledHeader(ReadOnlySpan<byte> header, LinkType linkType, uint frameLength, long receivedMilliseconds) =>
            Headers.Add((header.ToArray(), frameLength, _last));
    }
}
