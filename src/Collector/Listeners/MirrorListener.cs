using System.Net;
using System.Net.Sockets;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Listeners;

/// <summary>
/// Receives mirrored traffic sent to the collector itself: TZSP or VXLAN datagrams on a UDP port, or GRE and ERSPAN
/// on a raw IPv4 socket (protocol 47, which needs CAP_NET_RAW). Each frame inside becomes a one-packet record of the
/// mirroring device.
/// </summary>
internal sealed partial class MirrorListener : IDisposable
{
    private const int MaxDatagram = 65_535;
    private const int ProtocolGre = 47;
    private readonly string _name;
    private readonly Socket _socket;
    private readonly Encapsulation _udpEncapsulation;
    private readonly RateAggregator _aggregator;
    private readonly ExporterAllowlist _allowlist;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Thread? _thread;
    private long _datagrams;
    private long _rejected;
    private long _notIp;
    private volatile bool _stopping;

    private MirrorListener(string name, Socket socket, Encapsulation udpEncapsulation, RateAggregator aggregator, ExporterAllowlist allowlist, TimeProvider time, ILogger logger)
    {
        _name = name;
        _socket = socket;
        _udpEncapsulation = udpEncapsulation;
        _aggregator = aggregator;
        _allowlist = allowlist;
        _time = time;
        _logger = logger;
    }

    public string Name => _name;

    public int Port { get; private set; }

    public long Datagrams => Interlocked.Read(ref _datagrams);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long NotIp => Interlocked.Read(ref _notIp);

    /// <summary>A UDP port receiving TZSP (MikroTik's sniffer stream) or VXLAN, chosen by the port number (4789 is VXLAN).</summary>
    public static MirrorListener ForUdp(IPAddress address, int port, int receiveBuffer, RateAggregator aggregator, ExporterAllowlist allowlist, TimeProvider time, ILogger logger)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }

        SocketOptions.SetReceiveBuffer(socket, receiveBuffer);
        socket.Bind(new IPEndPoint(address, port));
        var encapsulation = port == PacketHeaderParser.VxlanPort ? Encapsulation.Vxlan : Encapsulation.Tzsp;
        var listener = new MirrorListener("mirror-udp", socket, encapsulation, aggregator, allowlist, time, logger)
        {
            Port = ((IPEndPoint)socket.LocalEndPoint!).Port,
        };
        return listener;
    }

    /// <summary>A raw socket receiving every IPv4 GRE packet addressed to this host (ERSPAN, GRE-mirrored frames).</summary>
    public static MirrorListener ForGre(int receiveBuffer, RateAggregator aggregator, ExporterAllowlist allowlist, TimeProvider time, ILogger logger)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, (ProtocolType)ProtocolGre);
        SocketOptions.SetReceiveBuffer(socket, receiveBuffer);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        return new MirrorListener("mirror-gre", socket, Encapsulation.None, aggregator, allowlist, time, logger);
    }

    public void Start()
    {
        var shard = _aggregator.CreateShard();
        _thread = new Thread(() => Receive(shard)) { IsBackground = true, Name = _name };
        _thread.Start();
        LogListening(_logger, _name, Port);
    }

    public void Dispose()
    {
        _stopping = true;
        _socket.Dispose();
        _thread?.Join(TimeSpan.FromSeconds(2));
    }

    private void Receive(AggregationShard shard)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var sender = new SocketAddress(_socket.AddressFamily);
        while (!_stopping)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, sender);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                if (_stopping)
                {
                    return;
                }

                LogReceiveFailed(_logger, exception, _name);
                continue;
            }

            Interlocked.Increment(ref _datagrams);
            var source = UdpFlowListener.SenderOf(sender);
            if (!_allowlist.Allows(source))
            {
                Interlocked.Increment(ref _rejected);
                continue;
            }

            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var packet = buffer.AsSpan(0, length);
            var decoded = _udpEncapsulation == Encapsulation.None
                ? PacketFlows.TryDecodeMirrored(packet, LinkType.Raw, length, now, out var flow)
                : PacketFlows.TryDecodeTunnelPayload(packet, _udpEncapsulation, source, now, out flow);
            if (!decoded)
            {
                Interlocked.Increment(ref _notIp);
                continue;
            }

            shard.Enter();
            try
            {
                shard.OnFlow(flow);
            }
            finally
            {
                shard.Exit();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Listener}: receiving mirrored traffic (port {Port})")]
    private static partial void LogListening(ILogger logger, string listener, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Listener}: receive failed")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception, string listener);
}
