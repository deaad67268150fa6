using System.Text.Json;
using System.Text.RegularExpressions;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// <c>flowcollector run</c> for real: the project's own NetFlow v5/v9, IPFIX and sFlow captures replayed over loopback
/// with <c>flowcollector replay</c>; the rates and counters it serves must be the known traffic's.
/// </summary>
public sealed class RunEndToEndTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    private static void Replay(string capture, int port, params string[] extra)
    {
        var (exitCode, output, error) = Flowcollector.Run(["replay", OwnCaptures.Path(capture), "--to", $"127.0.0.1:{port}", .. extra]);
        Assert.True(exitCode == 0, output + error);
    }

    [Fact]
    public async Task Run_OwnCapturesReplayed_TotalsPerSourceAreTheKnownTraffic()
    {
        await using var collector = await CollectorProcess.StartAsync();
        Replay("softflowd-v5.pcap", collector.NetFlowPort, "--max");
        Replay("softflowd-v9.pcap", collector.NetFlowPort, "--max");
        Replay("softflowd-ipfix.pcap", collector.IpfixPort, "--max");
        Replay("pmacct-sflow.pcap", collector.SFlowPort, "--max");

        // NetFlow records are spread over their duration: the totals settle once the longest flow has run its course.
        var netflow = OwnCaptures.Packets(4) + (OwnCaptures.Packets(4) + OwnCaptures.Packets(6));
        var ipfix = OwnCaptures.Packets(4) + OwnCaptures.Packets(6);
        var sflow = OwnCaptures.Decode("pmacct-sflow.pcap").Packets;
        Assert.Equal(netflow, await collector.WaitForMetricAsync("flowcollector_node_packets_total", netflow, Settle, ("source", "netflow")), 3);
        Assert.Equal(ipfix, await collector.WaitForMetricAsync("flowcollector_node_packets_total", ipfix, Settle, ("source", "ipfix")), 3);
        Assert.Equal(sflow, await collector.WaitForMetricAsync("flowcollector_node_packets_total", sflow, Settle, ("source", "sflow")), 3);
        Assert.Equal(OwnCaptures.Bytes(4) + OwnCaptures.Bytes(6), await collector.MetricAsync("flowcollector_node_bytes_total", ("source", "ipfix")), 0);

        // Per interface too: softflowd names no interfaces, so the exporter's traffic is under interface 0.
        Assert.Equal(netflow, await collector.MetricAsync("flowcollector_interface_packets_total", ("node", "127.0.0.1"), ("interface", "0"), ("direction", "in"), ("source", "netflow")), 3);
        var datagrams = new[] { "softflowd-v5.pcap", "softflowd-v9.pcap", "softflowd-ipfix.pcap", "pmacct-sflow.pcap" }.Sum(OwnCaptures.Datagrams);
        Assert.Equal(datagrams, await collector.MetricAsync("flowcollector_exporter_datagrams_total", ("exporter", "127.0.0.1")));
        Assert.Equal(0.0, await collector.MetricAsync("flowcollector_exporter_decode_errors_total"));
    }

    [Fact]
    public async Task Run_SteadySFlowReplay_ApiShowsTheRateWithinTheSamplingError()
    {
        await using var collector = await CollectorProcess.StartAsync();
        var (records, packets) = OwnCaptures.Decode("pmacct-sflow.pcap");
        const double DatagramsPerSecond = 100;
        var expected = DatagramsPerSecond * packets / OwnCaptures.Datagrams("pmacct-sflow.pcap");

        // The replay outlasts the waits: a loaded CI machine can take seconds to start the replaying process.
        var replay = Task.Run(() => Replay("pmacct-sflow.pcap", collector.SFlowPort, "--rate", "100", "--duration", "16"));

        // Once sFlow's rate shows, two more whole seconds of the replay are closed before it is read.
        await Eventually.True(async () => (await collector.GetAsync("/api/interfaces")).Contains("\"sflow\"", StringComparison.Ordinal), "sFlow's rate", seconds: 10);
        var shown = await LastSecondAsync(collector);
        await Eventually.True(async () => await LastSecondAsync(collector) >= shown + 2, "two more seconds closed", seconds: 4);
        using var interfaces = JsonDocument.Parse(await collector.GetAsync("/api/interfaces"));
        await replay;

        Assert.True(records > 0);
        var sflow = interfaces.RootElement.EnumerateArray().Single(i => i.GetProperty("source").GetString() == "sflow" && i.GetProperty("direction").GetString() == "in");
        Assert.Equal(
            ["node", "exporter", "interface", "ifIndex", "direction", "source", "pps", "bps", "flowsPerSecond"],
            sflow.EnumerateObject().Select(p => p.Name));
        Assert.Equal("127.0.0.1", sflow.GetProperty("exporter").GetString());
        Assert.Equal(0x3FFFFFFFL, sflow.GetProperty("ifIndex").GetInt64());
        Assert.InRange(sflow.GetProperty("pps").GetDouble(), expected * 0.85, expected * 1.15);
        Assert.True(sflow.GetProperty("bps").GetDouble() > 0);
    }

    [Fact]
    public async Task Run_Metrics_PassPromtoolCheck()
    {
        Flowcollector.Require(File.Exists("/usr/bin/promtool"), "promtool is not installed (apt-get install prometheus)");
        await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=auto");
        Replay("softflowd-ipfix.pcap", collector.IpfixPort, "--max");
        Replay("pmacct-sflow.pcap", collector.SFlowPort, "--max");
        await Eventually.True(async () => await collector.MetricAsync("flowcollector_node_packets_total", ("source", "ipfix")) > 0 && await collector.MetricAsync("flowcollector_node_packets_total", ("source", "sflow")) > 0, "a second with both sources closed");
        var metrics = await collector.GetAsync("/metrics");

        var check = new System.Diagnostics.ProcessStartInfo("/usr/bin/promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var promtool = System.Diagnostics.Process.Start(check)!;
        await promtool.StandardInput.WriteAsync(metrics);
        promtool.StandardInput.Close();
        var findings = await promtool.StandardError.ReadToEndAsync() + await promtool.StandardOutput.ReadToEndAsync();
        await promtool.WaitForExitAsync();

        Assert.True(promtool.ExitCode == 0, findings);
        Assert.Contains("flowcollector_interface_bytes_per_second{", metrics, StringComparison.Ordinal);
        Assert.Contains("process_resident_memory_bytes ", metrics, StringComparison.Ordinal);
        Assert.Contains("flowcollector_listener_kernel_drops_total{listener=\"ipfix\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("flowcollector_exporter_templates{exporter=\"127.0.0.1\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Healthz_ReportsTheListenersAndTheDataDirectory()
    {
        await using var collector = await CollectorProcess.StartAsync();

        using var health = JsonDocument.Parse(await collector.GetAsync("/healthz"));

        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Equal(collector.NetFlowPort, health.RootElement.GetProperty("listeners").GetProperty("netflow").GetInt32());
        Assert.Equal(collector.SFlowPort, health.RootElement.GetProperty("listeners").GetProperty("sflow").GetInt32());
        Assert.StartsWith(Path.GetTempPath(), health.RootElement.GetProperty("dataDirectory").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_OnePlace_SameInTheCommandLineHealthzAndBuildInfo()
    {
        // The build's VersionPrefix is the one place the version is set; the packages read the same property.
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(Flowcollector.RepositoryRoot, "Directory.Build.props"));
        var version = props.Descendants("VersionPrefix").Single().Value;
        await using var collector = await CollectorProcess.StartAsync();

        var (exitCode, output, _) = Flowcollector.Run("--version");
        using var health = JsonDocument.Parse(await collector.GetAsync("/healthz"));
        var metrics = await collector.GetAsync("/metrics");

        Assert.Equal(0, exitCode);
        Assert.Matches($"^{Regex.Escape(version)}(\\+[0-9a-f]+)?$", output.Trim());
        Assert.Equal(version, health.RootElement.GetProperty("version").GetString());
        Assert.Contains($"flowcollector_build_info{{version=\"{version}\"}} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_RunningCollectorIsOkAndNothingListeningIsUnreachable()
    {
        await using var collector = await CollectorProcess.StartAsync();
        using var nothing = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        nothing.Start();
        var unused = ((System.Net.IPEndPoint)nothing.LocalEndpoint).Port;
        nothing.Stop();

        var (okExit, okOutput, _) = Flowcollector.Run("health", "--http", collector.Http.Authority);
        var (downExit, _, downError) = Flowcollector.Run("health", "--http", $"127.0.0.1:{unused}", "--timeout", "2");

        Assert.Equal(0, okExit);
        Assert.Contains("\"status\":\"ok\"", okOutput, StringComparison.Ordinal);
        Assert.Equal(69, downExit);
        Assert.Contains("no answer", downError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnknownPath_Is404AndOtherMethodsAre405()
    {
        await using var collector = await CollectorProcess.StartAsync();

        using var missing = await collector.Client.GetAsync(new Uri("/nothing", UriKind.Relative));
        using var post = await collector.Client.PostAsync(new Uri("/metrics", UriKind.Relative), new StringContent("x"));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task Run_ExporterNotAllowed_IsDroppedAndCounted()
    {
        await using var collector = await CollectorProcess.StartAsync("--set", "Listeners:AllowedExporters:0=192.0.2.0/24");
        Replay("softflowd-ipfix.pcap", collector.IpfixPort, "--max");
        var datagrams = OwnCaptures.Datagrams("softflowd-ipfix.pcap");

        Assert.Equal(datagrams, await collector.WaitForMetricAsync("flowcollector_listener_rejected_total", datagrams, TimeSpan.FromSeconds(30), ("listener", "ipfix")));
        Assert.Equal(0.0, await collector.MetricAsync("flowcollector_node_packets_total", ("source", "ipfix")));
    }

    [Fact]
    public async Task Run_MutatedDatagramsOnTheSameSocket_AreCountedWhileTheValidExporterStaysExact()
    {
        var corpus = Path.Combine(Path.GetTempPath(), $"flowcollector-mutations-{Environment.ProcessId}.pcap");
        var datagrams = MutationCorpus.Write(corpus, seed: 4242, count: 3000);
        try
        {
            await using var collector = await CollectorProcess.StartAsync();
            var mutations = Task.Run(() => Flowcollector.Run("replay", corpus, "--to", $"127.0.0.1:{collector.IpfixPort}", "--from", "127.0.0.2", "--rate", "2000"));
            Replay("softflowd-ipfix.pcap", collector.IpfixPort, "--max");
            Assert.Equal(0, (await mutations).ExitCode);

            var valid = OwnCaptures.Packets(4) + OwnCaptures.Packets(6);
            Assert.Equal(valid, await collector.WaitForMetricAsync("flowcollector_interface_packets_total", valid, Settle, ("node", "127.0.0.1"), ("direction", "in"), ("source", "ipfix")), 3);
            Assert.Equal(datagrams, await collector.MetricAsync("flowcollector_exporter_datagrams_total", ("exporter", "127.0.0.2")));
            var errors = await collector.MetricAsync("flowcollector_exporter_decode_errors_total", ("exporter", "127.0.0.2"));
            Assert.True(errors > datagrams / 10, $"only {errors} of {datagrams} mutated datagrams were counted as errors");
            foreach (var reason in new[] { "truncated", "bad_set_length", "missing_template" })
            {
                Assert.True(await collector.MetricAsync("flowcollector_exporter_decode_errors_total", ("exporter", "127.0.0.2"), ("reason", reason)) > 0, reason);
            }

            Assert.Equal(0.0, await collector.MetricAsync("flowcollector_exporter_decode_errors_total", ("exporter", "127.0.0.1")));
        }
        finally
        {
            File.Delete(corpus);
        }
    }

    [Fact]
    public async Task Run_BurstIntoASmallBuffer_EveryDatagramIsEitherCountedOrAKernelDrop()
    {
        await using var collector = await CollectorProcess.StartAsync("--set", "Listeners:SocketsPerPort=1", "--set", "Listeners:ReceiveBufferBytes=65536");
        var (exitCode, output, error) = Flowcollector.Run("replay", OwnCaptures.Path("pmacct-sflow.pcap"), "--to", $"127.0.0.1:{collector.SFlowPort}", "--max", "--loop", "200", "--json");
        Assert.True(exitCode == 0, error);
        using var summary = JsonDocument.Parse(output);
        var sent = summary.RootElement.GetProperty("datagrams").GetDouble();
        double received = 0, dropped = 0;
        await Eventually.Within(async () =>
        {
            received = await collector.MetricAsync("flowcollector_listener_datagrams_total", ("listener", "sflow"));
            dropped = await collector.MetricAsync("flowcollector_listener_kernel_drops_total", ("listener", "sflow"));
            return received + dropped >= sent;
        });

        Assert.True(dropped > 0, $"a 64 KiB buffer took a burst of {sent} datagrams without a drop");
        Assert.Equal(sent, received + dropped);
        // Drops belong to the port they happened on: the idle listeners, read in the same pass, have none.
        Assert.Equal(0.0, await collector.MetricAsync("flowcollector_listener_kernel_drops_total", ("listener", "netflow")));
        Assert.Equal(0.0, await collector.MetricAsync("flowcollector_listener_kernel_drops_total", ("listener", "ipfix")));
    }

    private static async Task<long> LastSecondAsync(CollectorProcess collector)
    {
        using var health = JsonDocument.Parse(await collector.GetAsync("/healthz"));
        return health.RootElement.GetProperty("lastSecond").GetInt64();
    }
}
