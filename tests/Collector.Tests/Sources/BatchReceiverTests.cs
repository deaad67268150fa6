using System.Net;
using System.Net.Sockets;
using FlowCollector.Collector.Sources;
using FlowCollector.Decoders;

namespace FlowCollector.Collector.Tests.Sources;

/// <summary>recvmmsg on real loopback sockets: every datagram whole, with its sender, many per call.</summary>
public sealed class BatchReceiverTests
{
    private static Socket Bound(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }

        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Loopback, 0));
        return socket;
    }

    [Fact]
    public void Receive_QueuedDatagrams_ManyPerCallEachWholeWithItsSender()
    {
        Prerequisites.Require(BatchReceiver.IsSupported, "recvmmsg is Linux's");
        using var socket = Bound(AddressFamily.InterNetworkV6);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        using var fromV4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fromV4.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        using var fromV6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        fromV6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        // Small enough together for the default receive buffer (the largest datagram has a test of its own).
        var sizes = new[] { 1, 1_400, 3_000, 1_400 };
        for (var i = 0; i < 40; i++)
        {
            var payload = Enumerable.Repeat((byte)i, sizes[i % sizes.Length]).ToArray();
            if (i % 2 == 0)
            {
                fromV4.SendTo(payload, new IPEndPoint(IPAddress.Loopback, port));
            }
            else
            {
                fromV6.SendTo(payload, new IPEndPoint(IPAddress.IPv6Loopback, port));
            }
        }

        using var receiver = new BatchReceiver();
        var first = receiver.Receive(socket.SafeHandle, 1000, out var error);
        Assert.Equal((BatchReceiver.Batch, 0), (first, error));
        var seen = new List<(int Length, byte Fill, NetworkAddress Sender)>();
        for (var i = 0; i < first; i++)
        {
            var datagram = receiver.Datagram(i);
            Assert.False(receiver.Truncated(i));
            Assert.True(datagram.IndexOfAnyExcept(datagram[0]) < 0, "a datagram holds only its own bytes");
            seen.Add((datagram.Length, datagram[0], receiver.Sender(i)));
        }

        var second = receiver.Receive(socket.SafeHandle, 1000, out _);
        for (var i = 0; i < second; i++)
        {
            seen.Add((receiver.Datagram(i).Length, receiver.Datagram(i)[0], receiver.Sender(i)));
        }

        Assert.Equal(40, seen.Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (sizes[i % sizes.Length], (byte)i)), seen.Select(s => (s.Length, s.Fill)));
        Assert.Equal(NetworkAddress.FromIPv4(0x7F000002), seen[0].Sender);
        Assert.Equal(NetworkAddress.FromIPv6(IPAddress.IPv6Loopback.GetAddressBytes()), seen[1].Sender);
    }

    [Fact]
    public void Receive_LargestUdpPayload_ArrivesWhole()
    {
        Prerequisites.Require(BatchReceiver.IsSupported, "recvmmsg is Linux's");
        using var socket = Bound(AddressFamily.InterNetwork);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[65_507];
        Random.Shared.NextBytes(payload);
        sender.SendTo(payload, socket.LocalEndPoint!);
        using var receiver = new BatchReceiver();

        Assert.Equal(1, receiver.Receive(socket.SafeHandle, 1000, out _));
        Assert.False(receiver.Truncated(0));
        Assert.True(receiver.Datagram(0).SequenceEqual(payload));
    }

    [Fact]
    public void Receive_NothingQueued_ZeroAfterTheWait()
    {
        Prerequisites.Require(BatchReceiver.IsSupported, "recvmmsg is Linux's");
        using var socket = Bound(AddressFamily.InterNetwork);
        using var receiver = new BatchReceiver();

        Assert.Equal(0, receiver.Receive(socket.SafeHandle, 50, out var error));
        Assert.Equal(0, error);
    }

    [Fact]
    public async Task Receive_WaitingWithoutEnd_SocketClosedFromAnotherThread_Returns()
    {
        Prerequisites.Require(BatchReceiver.IsSupported, "recvmmsg is Linux's");
        var socket = Bound(AddressFamily.InterNetwork);
        using var receiver = new BatchReceiver();
        var waiting = Task.Factory.StartNew(() => receiver.Receive(socket.SafeHandle, Timeout.Infinite, out _), TaskCreationOptions.LongRunning);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);

        // Closing shuts the socket down first, which wakes the wait: a stopping collector never hangs on a quiet port.
        socket.Dispose();

        Assert.Same(waiting, await Task.WhenAny(waiting, Task.Delay(5000, TestContext.Current.CancellationToken)));
        Assert.True(socket.SafeHandle.IsClosed);
    }

    [Fact]
    public void Receive_SocketClosed_RefusesTheClosedHandle()
    {
        Prerequisites.Require(BatchReceiver.IsSupported, "recvmmsg is Linux's");
        var socket = Bound(AddressFamily.InterNetwork);
        using var receiver = new BatchReceiver();
        socket.Dispose();

        Assert.Throws<ObjectDisposedException>(() => receiver.Receive(socket.SafeHandle, 50, out _));
    }
}
