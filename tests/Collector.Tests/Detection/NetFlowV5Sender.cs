using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FlowCollector.Collector.Tests.Detection;

/// <summary>
/// Sends NetFlow v5 to a loopback port as an unsampled router would: every 100 ms one datagram whose records carry
/// the packets of those 100 ms, for as long as it runs.
/// </summary>
internal sealed class NetFlowV5Sender : IDisposable
{
    private readonly UdpClient _client;
    private readonly IPEndPoint _target;
    private readonly long _bootMilliseconds = Environment.TickCount64 - 3_600_000;
    private uint _sequence;

    /// <param name="port">The collector's NetFlow port on 127.0.0.1.</param>
    /// <param name="source">The loopback address to send from (any 127.0.0.0/8 address is this machine's); 127.0.0.1 by default.</param>
    public NetFlowV5Sender(int port, string source = "127.0.0.1")
    {
        _target = new IPEndPoint(IPAddress.Loopback, port);
        _client = new UdpClient(new IPEndPoint(IPAddress.Parse(source), 0));
    }

    /// <summary>One flow's rate: who, to whom, what, how many packets a second of which size.</summary>
    public readonly record struct Flow(string Source, string Destination, byte Protocol, ushort SourcePort, ushort DestinationPort, double PacketsPerSecond, int PacketBytes, byte TcpFlags = 0);

    /// <summary>
    /// A host's usual traffic (HTTPS and a little UDP), plus, while <paramref name="flooding"/>, DNS amplification from
    /// eight reflectors: 6,400 packets a second of 1,200 bytes from UDP port 53.
    /// </summary>
    public static List<Flow> DnsAmplificationOn(string victim, bool flooding)
    {
        var flows = new List<Flow>
        {
            new("198.51.100.20", victim, 6, 40_000, 443, 150, 900, 0x10),
            new("198.51.100.21", victim, 17, 50_000, 4500, 50, 300),
        };
        for (var i = 0; flooding && i < 8; i++)
        {
            flows.Add(new Flow($"192.0.2.{100 + i}", victim, 17, 53, (ushort)(20_000 + i), 800, 1_200));
        }

        return flows;
    }

    /// <summary>Sends <paramref name="flows"/> (chosen afresh every 100 ms) until cancelled.</summary>
    public async Task RunAsync(Func<IReadOnlyList<Flow>> flows, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var current = flows();
                for (var offset = 0; offset < current.Count; offset += 30)
                {
                    var datagram = Datagram(current.Skip(offset).Take(30).ToList());
                    await _client.SendAsync(datagram, _target, stop);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Sends one datagram of these flows now.</summary>
    public void SendOnce(IReadOnlyList<Flow> flows) => _client.Send(Datagram([.. flows]), _target);

    public void Dispose() => _client.Dispose();

    private byte[] Datagram(List<Flow> flows)
    {
        var buffer = new byte[24 + (48 * flows.Count)];
        var uptime = (uint)(Environment.TickCount64 - _bootMilliseconds);
        var now = DateTimeOffset.UtcNow;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, 5);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)flows.Count);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), uptime);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), (uint)now.ToUnixTimeSeconds());
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(12), (uint)(now.Millisecond * 1_000_000));
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(16), _sequence);
        _sequence += (uint)flows.Count;
        for (var i = 0; i < flows.Count; i++)
        {
            var record = buffer.AsSpan(24 + (48 * i), 48);
            var flow = flows[i];
            var packets = (uint)Math.Max(1, Math.Round(flow.PacketsPerSecond / 10));
            IPAddress.Parse(flow.Source).TryWriteBytes(record, out _);
            IPAddress.Parse(flow.Destination).TryWriteBytes(record[4..], out _);
            BinaryPrimitives.WriteUInt16BigEndian(record[12..], 1);
            BinaryPrimitives.WriteUInt16BigEndian(record[14..], 2);
            BinaryPrimitives.WriteUInt32BigEndian(record[16..], packets);
            BinaryPrimitives.WriteUInt32BigEndian(record[20..], packets * (uint)flow.PacketBytes);
            BinaryPrimitives.WriteUInt32BigEndian(record[24..], uptime - 100);
            BinaryPrimitives.WriteUInt32BigEndian(record[28..], uptime);
            BinaryPrimitives.WriteUInt16BigEndian(record[32..], flow.SourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(record[34..], flow.DestinationPort);
            record[37] = flow.TcpFlags;
            record[38] = flow.Protocol;
        }

        return buffer;
    }
}
