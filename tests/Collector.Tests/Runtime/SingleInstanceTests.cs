using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// One collector per data directory and per port: a second copy started by mistake must not close the first one's
/// incidents, delete its rules, or take half of its exporters' datagrams. Real processes on loopback.
/// </summary>
public sealed class SingleInstanceTests
{
    private static readonly Flow[] Web = [new Flow("198.51.100.20", "203.0.113.10", 6, 40_000, 443, 150, 900, 0x10)];

    /// <summary>A second collector, run to its end: it must refuse to start, not run beside the first.</summary>
    private static (int ExitCode, string Output) RunToExit(params string[] arguments)
    {
        var (exit, output, error) = Flowcollector.Run(arguments);
        return (exit, output + error);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Run_SecondCollectorOnTheSameDataDirectory_IsRefused()
    {
        await using var first = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off");
        var data = first.DataDirectory.FullName;

        var (exit, output) = RunToExit(
            "run", "--data-dir", data, "--netflow-port", Invariant(CollectorProcess.FreeUdpPort()), "--ipfix-port", "0", "--sflow-port", "0",
            "--http", $"127.0.0.1:{CollectorProcess.FreeTcpPort()}", "--set", "Listeners:Address=127.0.0.1", "--set", "ProcNetDev:Mode=off");

        Assert.Equal(69, exit);
        Assert.Contains("another flowcollector (pid ", output, StringComparison.Ordinal);
        Assert.Contains(data, output, StringComparison.Ordinal);

        using var sender = new NetFlowV5Sender(first.NetFlowPort);
        sender.SendOnce(Web);
        Assert.Equal(1, await first.WaitForMetricAsync("flowcollector_exporter_records_total", 1, TimeSpan.FromSeconds(10)));
        Assert.Contains("\"status\":\"ok\"", await first.GetAsync("/healthz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_StoppedBySigterm_ExitsWith0AndFreesTheDataDirectory()
    {
        var data = Directory.CreateTempSubdirectory("flowcollector-sigterm-");
        try
        {
            await using (var first = await CollectorProcess.StartAsync(data, null, "--set", "ProcNetDev:Mode=off"))
            {
                Assert.Equal(0, await first.TerminateAsync());
                Assert.Contains("Application is shutting down", first.Output, StringComparison.Ordinal);
            }

            await using var second = await CollectorProcess.StartAsync(data, null, "--set", "ProcNetDev:Mode=off");
            Assert.Contains("\"status\":\"ok\"", await second.GetAsync("/healthz"), StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Run_SecondCollectorOnTheSamePorts_IsRefused()
    {
        await using var first = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off");
        var other = Directory.CreateTempSubdirectory("flowcollector-second-");
        try
        {
            var (udpExit, udpOutput) = RunToExit(
                "run", "--data-dir", other.FullName, "--netflow-port", Invariant(first.NetFlowPort), "--ipfix-port", "0", "--sflow-port", "0",
                "--http", $"127.0.0.1:{CollectorProcess.FreeTcpPort()}", "--set", "Listeners:Address=127.0.0.1", "--set", "ProcNetDev:Mode=off");
            Assert.Equal(69, udpExit);
            Assert.Contains("Listeners: cannot open a socket", udpOutput, StringComparison.Ordinal);

            var (httpExit, httpOutput) = RunToExit(
                "run", "--data-dir", other.FullName, "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0",
                "--http", $"127.0.0.1:{first.Http.Port}", "--set", "ProcNetDev:Mode=off");
            Assert.Equal(69, httpExit);
            Assert.Contains("Http:Listen: cannot listen", httpOutput, StringComparison.Ordinal);
        }
        finally
        {
            other.Delete(recursive: true);
        }

        Assert.Contains("\"status\":\"ok\"", await first.GetAsync("/healthz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SocketJoiningThePortLater_ReceivesNothing()
    {
        await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off", "--set", "Listeners:SocketsPerPort=2");

        // Another process's socket (same user, so the kernel lets it into the group) joins the NetFlow port.
        using var intruder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        intruder.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
        intruder.Bind(new IPEndPoint(IPAddress.Loopback, collector.NetFlowPort));

        for (var exporter = 0; exporter < 20; exporter++)
        {
            using var sender = new NetFlowV5Sender(collector.NetFlowPort, $"127.0.9.{10 + exporter}");
            for (var i = 0; i < 5; i++)
            {
                sender.SendOnce(Web);
            }
        }

        Assert.Equal(100, await collector.WaitForMetricAsync("flowcollector_exporter_records_total", 100, TimeSpan.FromSeconds(10)));
        Assert.Equal(0, intruder.Available);
        Assert.Equal(20, (await collector.GetAsync("/metrics")).Split('\n').Count(l => l.StartsWith("flowcollector_exporter_records_total{exporter=\"127.0.9.", StringComparison.Ordinal)));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Run_DataDirectoryAndDatabase_AreTheOwnersAlone()
    {
        var parent = Directory.CreateTempSubdirectory("flowcollector-private-");
        try
        {
            var data = new DirectoryInfo(Path.Combine(parent.FullName, "data"));
            await using (await CollectorProcess.StartAsync(data, null, "--set", "ProcNetDev:Mode=off"))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data.FullName));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data.FullName, "flowcollector.db")));
            }

            // A directory an earlier build (or systemd's StateDirectory) made world-readable is tightened.
            File.SetUnixFileMode(data.FullName, (UnixFileMode)0b111_101_101);
            await using (await CollectorProcess.StartAsync(data, null, "--set", "ProcNetDev:Mode=off"))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data.FullName));
            }
        }
        finally
        {
            parent.Delete(recursive: true);
        }
    }
}
