using System.Net.Sockets;

namespace FlowCollector.Collector.Listeners;

/// <summary>Linux socket options .NET has no names for.</summary>
internal static class SocketOptions
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;
    private const int SoReceiveBufferForce = 33;

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
