using System.Net;
using System.Net.Sockets;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Datagrams from sockets of one port (or a raw socket), each socket read by a thread of its own through the shared
/// <see cref="DatagramLoop"/> into its own aggregation shard. The handler says what a datagram is: flow exports, or
/// mirrored frames in a tunnel.
/// </summary>
internal sealed partial class DatagramSource<THandler> : IFlowSource
    where THandler : struct, IDatagramHandler
{
    private readonly Func<DatagramSource<THandler>, List<Socket>> _open;
    private readonly THandler _handler;
    private readonly RateAggregator _aggregator;
    private readonly ExporterAllowlist _allowlist;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DatagramCounters _counters = new();
    private readonly string _unrecognizedEvent;
    private readonly List<Socket> _sockets = [];
    private readonly List<Thread> _threads = [];

    /// <param name="name">The source's name.</param>
    /// <param name="open">Opens and binds the sockets.</param>
    /// <param name="handler">What each datagram becomes.</param>
    /// <param name="unrecognizedEvent">The event name datagrams the handler does not understand are counted under.</param>
    /// <param name="aggregator">Where the records go, through a shard per socket.</param>
    /// <param name="allowlist">The senders heard; the others are counted and dropped.</param>
    /// <param name="time">The clock records are stamped with.</param>
    /// <param name="logger">Where receive failures are told.</param>
    public DatagramSource(string name, Func<DatagramSource<THandler>, List<Socket>> open, THandler handler, string unrecognizedEvent, RateAggregator aggregator, ExporterAllowlist allowlist, TimeProvider time, ILogger logger)
    {
        Name = name;
        _open = open;
        _handler = handler;
        _unrecognizedEvent = unrecognizedEvent;
        _aggregator = aggregator;
        _allowlist = allowlist;
        _time = time;
        _logger = logger;
    }

    public string Name { get; }

    public SourceKind Kind => SourceKind.Listener;

    /// <summary>The port the sockets are bound to, read back from the first one (0 for the raw GRE socket).</summary>
    public int UdpPort { get; private set; }

    public long Received => _counters.Received;

    public long Rejected => _counters.Rejected;

    public long Dropped => 0;

    public void ReadEvents(ICollection<KeyValuePair<string, long>> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        events.Add(new(_unrecognizedEvent, _counters.Unrecognized));
        events.Add(new("receive_errors", _counters.ReceiveErrors));
    }

    public void Start()
    {
        _sockets.AddRange(_open(this));
        UdpPort = _sockets[0].LocalEndPoint is IPEndPoint bound && _sockets[0].SocketType == SocketType.Dgram ? bound.Port : 0;
        foreach (var socket in _sockets)
        {
            var shard = _aggregator.CreateShard();
            var thread = new Thread(() => DatagramLoop.Run(socket, _handler, shard, _allowlist, _time, _counters, Name, _logger)) { IsBackground = true, Name = $"{Name}-receive" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }
}

/// <summary>Flow exports (NetFlow, IPFIX, sFlow) decoded straight into the shard; sFlow's sampled headers into the ring, when kept.</summary>
internal readonly struct FlowExports(FlowDecoder decoder, FrameRing? headers = null) : IDatagramHandler
{
    public bool Handle(ReadOnlySpan<byte> datagram, NetworkAddress sender, long nowMilliseconds, AggregationShard shard)
    {
        // Decode failures are counted per exporter by the decoder, with their reasons.
        var sink = new ShardSink(shard, headers);
        decoder.Decode(datagram, sender, nowMilliseconds, ref sink);
        return true;
    }
}

/// <summary>A mirrored frame in a tunnel (TZSP, VXLAN), or a GRE/ERSPAN packet from a raw socket: one packet each.</summary>
internal readonly struct MirroredFrames(Encapsulation encapsulation) : IDatagramHandler
{
    public bool Handle(ReadOnlySpan<byte> datagram, NetworkAddress sender, long nowMilliseconds, AggregationShard shard)
    {
        var decoded = encapsulation == Encapsulation.None
            ? PacketFlows.TryDecodeMirrored(datagram, LinkType.Raw, datagram.Length, nowMilliseconds, out var flow)
            : PacketFlows.TryDecodeTunnelPayload(datagram, encapsulation, sender, nowMilliseconds, out flow);
        if (decoded)
        {
            shard.OnFlow(flow);
        }

        return decoded;
    }
}

/// <summary>Delivers decoded records into an aggregation shard; a struct so the decoder's calls are direct.</summary>
internal readonly struct ShardSink(AggregationShard shard, FrameRing? headers) : IFlowSink
{
    public void OnFlow(in FlowRecord flow) => shard.OnFlow(flow);

    public void OnCounters(in InterfaceCounters counters) => shard.OnCounters(counters);

    public void OnSampledHeader(ReadOnlySpan<byte> header, LinkType linkType, uint frameLength, long receivedMilliseconds) =>
        headers?.Append(header, linkType, receivedMilliseconds * 1000, (int)Math.Min(frameLength, int.MaxValue));
}

/// <summary>Opens the sockets of the datagram sources, with the warnings every one of them owes.</summary>
internal static partial class DatagramSockets
{
    private const int ProtocolGre = 47;

    /// <summary>
    /// Several sockets sharing one UDP port with SO_REUSEPORT, steered by sender (each exporter to one socket, and
    /// none to a socket of another process); the first learns the port when 0 is asked and the others join it.
    /// </summary>
    public static List<Socket> ReusePortGroup(IFlowSource source, IPAddress address, int port, int count, int receiveBuffer, ILogger logger)
    {
        SocketOptions.EnsurePortFree(address, port, SocketType.Dgram, ProtocolType.Udp);
        var sockets = new List<Socket>();
        var bound = port;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = Udp(address);
                sockets.Add(socket);
                SocketOptions.ReusePort(socket);
                GrantBuffer(source, socket, receiveBuffer, logger, warn: i == 0);
                socket.Bind(new IPEndPoint(address, bound));
                bound = ((IPEndPoint)socket.LocalEndPoint!).Port;
            }
        }
        catch
        {
            sockets.ForEach(s => s.Dispose());
            throw;
        }

        if (!SocketOptions.TrySteerBySender(sockets[0], count))
        {
            LogNotSteered(logger, source.Name, bound);
        }

        LogListening(logger, source.Name, address, bound, count);
        return sockets;
    }

    /// <summary>One UDP socket (mirrored traffic in TZSP or VXLAN).</summary>
    public static List<Socket> Single(IFlowSource source, IPAddress address, int port, int receiveBuffer, ILogger logger)
    {
        var socket = Udp(address);
        try
        {
            GrantBuffer(source, socket, receiveBuffer, logger, warn: true);
            socket.Bind(new IPEndPoint(address, port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        LogListening(logger, source.Name, address, ((IPEndPoint)socket.LocalEndPoint!).Port, 1);
        return [socket];
    }

    /// <summary>A raw socket receiving every IPv4 GRE packet addressed to this host (ERSPAN, GRE-mirrored frames); needs CAP_NET_RAW.</summary>
    public static List<Socket> Gre(IFlowSource source, int receiveBuffer, ILogger logger)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, (ProtocolType)ProtocolGre);
        try
        {
            GrantBuffer(source, socket, receiveBuffer, logger, warn: true);
            socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        LogListeningGre(logger, source.Name);
        return [socket];
    }

    private static Socket Udp(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }

        return socket;
    }

    private static void GrantBuffer(IFlowSource source, Socket socket, int receiveBuffer, ILogger logger, bool warn)
    {
        var granted = SocketOptions.SetReceiveBuffer(socket, receiveBuffer);
        if (granted < receiveBuffer && warn)
        {
            LogBufferCapped(logger, source.Name, receiveBuffer, granted);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source}: listening on {Address} port {Port} with {Sockets} socket(s)")]
    private static partial void LogListening(ILogger logger, string source, IPAddress address, int port, int sockets);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source}: receiving GRE and ERSPAN on a raw socket")]
    private static partial void LogListeningGre(ILogger logger, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Source}: asked for a {Asked}-byte receive buffer, the kernel granted {Granted}; raise net.core.rmem_max or run with CAP_NET_ADMIN to avoid drops under bursts")]
    private static partial void LogBufferCapped(ILogger logger, string source, int asked, int granted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Source}: cannot steer datagrams by exporter on port {Port} (SO_ATTACH_REUSEPORT_CBPF refused): the kernel spreads them by address and port, and another process could join the port")]
    private static partial void LogNotSteered(ILogger logger, string source, int port);
}
