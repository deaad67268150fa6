using System.Net;
using System.Net.Sockets;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Tests.Support;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowCollector.Collector.Tests.Sources;

/// <summary>Every counter a source keeps reaches /metrics, and the shared receive loop ends cleanly.</summary>
public sealed class SourceCountersTests
{
    /// <summary>TZSP (version 1, received, Ethernet, END tag) around an Ethernet frame.</summary>
    private static byte[] Tzsp(ushort etherType, byte[] payload) =>
        [0x01, 0x00, 0x00, 0x01, 0x01, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, (byte)(etherType >> 8), (byte)etherType, .. payload];

    private static byte[] Ipv4Udp()
    {
        byte[] header = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 7, 203, 0, 113, 10];
        byte[] udp = [0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0];
        return [.. header, .. udp];
    }

    [Fact]
    public async Task MirrorListener_FramesThatAreNotIp_AreCountedInMetrics()
    {
        var port = CollectorProcess.FreeUdpPort();
        await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off", "--set", $"Listeners:MirrorPort={port}");
        using var sender = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        await sender.SendAsync(Tzsp(0x0800, Ipv4Udp()), new IPEndPoint(IPAddress.Loopback, port));
        await sender.SendAsync(Tzsp(0x0806, new byte[28]), new IPEndPoint(IPAddress.Loopback, port));
        await sender.SendAsync(Tzsp(0x0806, new byte[28]), new IPEndPoint(IPAddress.Loopback, port));

        Assert.Equal(3, await collector.WaitForMetricAsync("flowcollector_listener_datagrams_total", 3, TimeSpan.FromSeconds(30), ("listener", "mirror-udp")));
        Assert.Equal(2, await collector.MetricAsync("flowcollector_source_events_total", ("source", "mirror-udp"), ("event", "not_ip")));
        Assert.Equal(0, await collector.MetricAsync("flowcollector_source_events_total", ("source", "mirror-udp"), ("event", "receive_errors")));
        Assert.Contains($"\"mirror-udp\":{port}", await collector.GetAsync("/healthz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProcNetDev_MalformedLines_AreCountedInMetrics()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file,
                "Inter-|   Receive                                                |  Transmit\n" +
                " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
                "  eth9: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n" +
                "  eth8: 12 34 x\n");
            await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=on", "--set", $"ProcNetDev:Path={file}");

            var malformed = await collector.WaitForMetricAsync("flowcollector_source_events_total", 3, TimeSpan.FromSeconds(30), ("source", "proc-net-dev"), ("event", "malformed_lines"));

            Assert.True(malformed >= 3, $"{malformed} malformed lines counted after three reads");
            Assert.Equal(0, await collector.MetricAsync("flowcollector_source_events_total", ("source", "proc-net-dev"), ("event", "read_failures")));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void ProcNetDevSource_UnreadablePath_CountsAReadFailure()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-procnetdev-");
        try
        {
            var aggregator = new RateAggregator(new AggregationOptions(), MonitoredPrefixes.None, new InterfaceNames(), TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
            using var source = new ProcNetDevSource(directory.FullName, ["*"], [], aggregator);

            source.Poll(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
            source.Poll(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
            var events = new List<KeyValuePair<string, long>>();
            source.ReadEvents(events);

            Assert.Equal(2, events.Single(e => e.Key == "read_failures").Value);
            Assert.Equal(0, source.Received);
        }
        finally
        {
            directory.Delete();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DatagramLoop_SocketClosed_EndsTheLoopAndCountsWhatItSaw(bool batched)
    {
        var aggregator = new RateAggregator(new AggregationOptions(), MonitoredPrefixes.None, new InterfaceNames(), TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var counters = new DatagramCounters();
        var allowlist = new ExporterAllowlist([IpPrefix.Parse("127.0.0.2/32")]);
        var loop = new Thread(() => DatagramLoop.Run(socket, new EvenLengths(), aggregator.CreateShard(), allowlist, TimeProvider.System, counters, "test", NullLogger.Instance, batched));
        loop.Start();
        using (var allowed = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0)))
        using (var other = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            allowed.Send(new byte[2], (IPEndPoint)socket.LocalEndPoint!);
            allowed.Send(new byte[3], (IPEndPoint)socket.LocalEndPoint!);
            other.Send(new byte[2], (IPEndPoint)socket.LocalEndPoint!);
        }

        Eventually.TrueNow(() => counters.Received == 3, "three datagrams received");
        socket.Dispose();

        Assert.True(loop.Join(TimeSpan.FromSeconds(10)), "the loop ended when its socket closed");
        Assert.Equal((3L, 1L, 1L, 0L), (counters.Received, counters.Rejected, counters.Unrecognized, counters.ReceiveErrors));
    }

    /// <summary>Understands datagrams of even length only.</summary>
    private readonly struct EvenLengths : IDatagramHandler
    {
        public bool Handle(ReadOnlySpan<byte> datagram, NetworkAddress sender, long nowMilliseconds, AggregationShard shard) => datagram.Length % 2 == 0;
    }
}
