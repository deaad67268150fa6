using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FlowCollector.Collector.Sources;

/// <summary>Linux socket options .NET has no names for.</summary>
internal static class SocketOptions
{
    private const int SolSocket = 1;
    private const int SoReuseAddress = 2;
    private const int SoReusePort = 15;
    private const int SoReceiveBufferForce = 33;
    private const int SoAttachReusePortCbpf = 51;

    // Classic BPF: opcodes, and the offset that addresses the network header from a socket filter.
    private const ushort LoadByteAbsolute = 0x30, LoadWordAbsolute = 0x20, ShiftRight = 0x74, JumpIfEqual = 0x15, Jump = 0x05;
    private const ushort MoveToX = 0x07, XorX = 0xac, ModuloK = 0x94, ReturnA = 0x16;
    private const int NetworkHeader = -0x100000;

    /// <summary>
    /// Binds nothing but checks that no socket holds the port yet: a socket without SO_REUSEPORT cannot bind a port
    /// that any other socket has, so a second collector (or another program) on the same port is refused here
    /// instead of silently splitting the exporters' datagrams with us.
    /// </summary>
    public static void EnsurePortFree(IPAddress address, int port, SocketType type, ProtocolType protocol)
    {
        if (port == 0)
        {
            return;
        }

        using var probe = new Socket(address.AddressFamily, type, protocol);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            probe.DualMode = true;
        }

        probe.Bind(new IPEndPoint(address, port));
    }

    /// <summary>
    /// Lets a listening TCP socket rebind a port that closed connections still hold in TIME_WAIT, and nothing more:
    /// .NET's ReuseAddress also sets SO_REUSEPORT on Linux, which lets a second process listen on the same port.
    /// </summary>
    public static void ReuseAddressOnly(Socket socket) => socket.SetRawSocketOption(SolSocket, SoReuseAddress, BitConverter.GetBytes(1));

    /// <summary>
    /// Steers each datagram of a SO_REUSEPORT group to socket (source address mod <paramref name="sockets"/>): one
    /// exporter always reaches the same socket (its templates stay in order on one thread, whatever its source port),
    /// and a socket that joins the group later, another process's, is never chosen and receives nothing.
    /// </summary>
    public static unsafe bool TrySteerBySender(Socket socket, int sockets)
    {
        ReadOnlySpan<(ushort Code, byte True, byte False, int K)> program =
        [
            (LoadByteAbsolute, 0, 0, NetworkHeader),            // A = IP version and header length
            (ShiftRight, 0, 0, 4),                              // A = IP version
            (JumpIfEqual, 2, 0, 6),                             // IPv6: hash the source's four words
            (LoadWordAbsolute, 0, 0, NetworkHeader + 12),       // IPv4: A = source address
            (Jump, 0, 0, 10),
            (LoadWordAbsolute, 0, 0, NetworkHeader + 8),
            (MoveToX, 0, 0, 0),
            (LoadWordAbsolute, 0, 0, NetworkHeader + 12),
            (XorX, 0, 0, 0),
            (MoveToX, 0, 0, 0),
            (LoadWordAbsolute, 0, 0, NetworkHeader + 16),
            (XorX, 0, 0, 0),
            (MoveToX, 0, 0, 0),
            (LoadWordAbsolute, 0, 0, NetworkHeader + 20),
            (XorX, 0, 0, 0),
            (ModuloK, 0, 0, sockets),                           // A = A mod sockets: only our own sockets
            (ReturnA, 0, 0, 0),
        ];
        var filter = new byte[program.Length * 8];
        for (var i = 0; i < program.Length; i++)
        {
            var instruction = filter.AsSpan(i * 8, 8);
            BinaryPrimitives.WriteUInt16LittleEndian(instruction, program[i].Code);
            instruction[2] = program[i].True;
            instruction[3] = program[i].False;
            BinaryPrimitives.WriteInt32LittleEndian(instruction[4..], program[i].K);
        }

        fixed (byte* instructions = filter)
        {
            // struct sock_fprog: the instruction count, then (aligned) a pointer to them; the kernel copies both.
            Span<byte> fprog = stackalloc byte[16];
            fprog.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(fprog, (ushort)program.Length);
            BinaryPrimitives.WriteInt64LittleEndian(fprog[8..], (long)instructions);
            try
            {
                socket.SetRawSocketOption(SolSocket, SoAttachReusePortCbpf, fprog);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }

    /// <summary>Lets several sockets share one port; the kernel spreads datagrams over them by 4-tuple hash.</summary>
    public static void ReusePort(Socket socket) => socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));

    /// <summary>
    /// Asks for a receive buffer; as root SO_RCVBUFFORCE goes past net.core.rmem_max. Returns what the kernel
    /// granted (Linux reports twice the usable size, which is what is compared).
    /// </summary>
    public static int SetReceiveBuffer(Socket socket, int bytes)
    {
        try
        {
            socket.SetRawSocketOption(SolSocket, SoReceiveBufferForce, BitConverter.GetBytes(bytes));
        }
        catch (SocketException)
        {
            socket.ReceiveBufferSize = bytes;
        }

        return socket.ReceiveBufferSize;
    }
}
