using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Listeners;

/// <summary>
/// Receives flow export datagrams on one UDP port: several sockets sharing it with SO_REUSEPORT, each read by a
/// thread of its own into a buffer and a socket address that are reused, decoded on that thread into its own
/// aggregation shard. Nothing is allocated per datagram.
/// </summary>
internal sealed partial class UdpFlowListener : IDisposable
{
    private const int MaxDatagram = 65_535;
    private readonly string _name;
    private readonly FlowDecoder _decoder;
    private readonly RateAggregator _aggregator;
    private readonly ExporterAllowlist _allowlist;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<Socket> _sockets = [];
    private readonly List<Thread> _threads = [];
    private long _datagrams;
    private long _rejected;
    private volatile bool _stopping;

    public UdpFlowListener(string name, FlowDecoder decoder, RateAggregator aggregator, ExporterAllowlist allowlist, TimeProvider time, ILogger logger)
    {
        _name = name;
        _decoder = decoder;
        _aggregator = aggregator;
        _allowlist = allowlist;
        _time = time;
        _logger = logger;
    }

    public string Name => _name;

    /// <summary>The port the sockets are bound to (the kernel's choice when 0 was asked).</summary>
    public int Port { get; private set; }

    public long Datagrams => Interlocked.Read(ref _datagrams);

    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Binds the sockets and starts their threads.</summary>
    public void Start(IPAddress address, int port, int sockets, int receiveBuffer)
    {
        SocketOptions.EnsurePortFree(address, port, SocketType.Dgram, ProtocolType.Udp);
        for (var i = 0; i < sockets; i++)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true;
            }

            SocketOptions.ReusePort(socket);
            var granted = SocketOptions.SetReceiveBuffer(socket, receiveBuffer);
            if (granted < receiveBuffer && i == 0)
            {
                LogBufferCapped(_logger, _name, receiveBuffer, granted);
            }

            // With port 0 the first socket learns its port from the kernel and the others join it.
            socket.Bind(new IPEndPoint(address, i == 0 ? port : Port));
            if (i == 0)
            {
                Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            }

            _sockets.Add(socket);
        }

        if (!SocketOptions.TrySteerBySender(_sockets[0], sockets))
        {
            LogNotSteered(_logger, _name, Port);
        }

        foreach (var socket in _sockets)
        {
            var shard = _aggregator.CreateShard();
            var thread = new Thread(() => Receive(socket, shard)) { IsBackground = true, Name = $"{_name}-receive" };
            _threads.Add(thread);
            thread.Start();
        }

        LogListening(_logger, _name, address, Port, sockets);
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    /// <summary>The exporter's address from a received socket address (IPv4-mapped when it came over IPv4).</summary>
    internal static NetworkAddress SenderOf(SocketAddress address)
    {
        var bytes = address.Buffer.Span;
        return address.Family == AddressFamily.InterNetworkV6
            ? NetworkAddress.FromIPv6(bytes.Slice(8, 16))
            : NetworkAddress.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]));
    }

    private void Receive(Socket socket, AggregationShard shard)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var sender = new SocketAddress(socket.AddressFamily);
        var sink = new ShardSink(shard);
        while (!_stopping)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, sender);
            }
            catch (SocketException) when (_stopping)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception)
            {
                LogReceiveFailed(_logger, exception, _name);
                continue;
            }

            Interlocked.Increment(ref _datagrams);
            var exporter = SenderOf(sender);
            if (!_allowlist.Allows(exporter))
            {
                Interlocked.Increment(ref _rejected);
                continue;
            }

            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            shard.Enter();
            try
            {
                _decoder.Decode(buffer.AsSpan(0, length), exporter, now, ref sink);
            }
            finally
            {
                shard.Exit();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Listener}: listening on {Address} port {Port} with {Sockets} socket(s)")]
    private static partial void LogListening(ILogger logger, string listener, IPAddress address, int port, int sockets);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Listener}: asked for a {Asked}-byte receive buffer, the kernel granted {Granted}; raise net.core.rmem_max or run with CAP_NET_ADMIN to avoid drops under bursts")]
    private static partial void LogBufferCapped(ILogger logger, string listener, int asked, int granted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Listener}: cannot steer datagrams by exporter on port {Port} (SO_ATTACH_REUSEPORT_CBPF refused): the kernel spreads them by address and port, and another process could join the port")]
    private static partial void LogNotSteered(ILogger logger, string listener, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Listener}: receive failed")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception, string listener);
}

/// <summary>Delivers decoded records into an aggregation shard; a struct so the decoder's calls are direct.</summary>
internal readonly struct ShardSink(AggregationShard shard) : IFlowSink
{
    public void OnFlow(in FlowRecord flow) => shard.OnFlow(flow);

    public void OnCounters(in InterfaceCounters counters) => shard.OnCounters(counters);
}
