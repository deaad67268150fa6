using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using FlowCollector.Collector.Runtime;

namespace FlowCollector.Collector.Replay;

/// <summary>
/// Sends a fixed set of datagrams on a connected UDP socket, many per system call with Linux sendmmsg(2): the
/// replay has to outrun the collector it loads, from one core. The datagrams live in one pinned arena and the
/// message headers are built once, so sending allocates nothing.
/// </summary>
internal sealed unsafe partial class BatchSender : IDisposable
{
    private const int MaxBatch = 256;
    private readonly Socket _socket;
    private readonly byte[] _arena;
    private readonly int[] _offsets;
    private readonly int[] _lengths;
    private readonly IoVector* _vectors;
    private readonly MultipleMessageHeader* _messages;

    public BatchSender(IPEndPoint target, IPAddress? source, IReadOnlyList<byte[]> datagrams, int sendBuffer)
    {
        _socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.SendBufferSize = sendBuffer;
        if (source is not null)
        {
            _socket.Bind(new IPEndPoint(source, 0));
        }

        _socket.Connect(target);
        Count = datagrams.Count;
        _offsets = new int[Count];
        _lengths = new int[Count];
        var total = 0L;
        for (var i = 0; i < Count; i++)
        {
            _offsets[i] = (int)total;
            _lengths[i] = datagrams[i].Length;
            total += datagrams[i].Length;
        }

        _arena = GC.AllocateUninitializedArray<byte>((int)Math.Max(1, total), pinned: true);
        for (var i = 0; i < Count; i++)
        {
            datagrams[i].CopyTo(_arena, _offsets[i]);
        }

        _vectors = (IoVector*)NativeMemory.AllocZeroed((nuint)Math.Max(1, Count), (nuint)sizeof(IoVector));
        _messages = (MultipleMessageHeader*)NativeMemory.AllocZeroed((nuint)Math.Max(1, Count), (nuint)sizeof(MultipleMessageHeader));
        var arena = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_arena, 0);
        for (var i = 0; i < Count; i++)
        {
            _vectors[i] = new IoVector { Base = arena + _offsets[i], Length = (nuint)_lengths[i] };
            _messages[i].Header.Vector = &_vectors[i];
            _messages[i].Header.VectorLength = 1;
        }
    }

    public int Count { get; }

    public int LengthOf(int index) => _lengths[index];

    /// <summary>
    /// Sends datagrams [first, first + count) and returns how many the kernel took; a refused destination (nothing
    /// listening yet) counts as sent-and-lost, as a router's export would be.
    /// </summary>
    public int Send(int first, int count)
    {
        var sent = 0;
        var fd = (int)_socket.Handle;
        while (sent < count)
        {
            var batch = Math.Min(MaxBatch, count - sent);
            var result = SendMultiple(fd, &_messages[first + sent], (uint)batch, 0);
            if (result < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is ConnectionRefused or WouldBlockOrAgain)
                {
                    // ICMP port unreachable from an earlier datagram: skip one and go on.
                    sent++;
                    continue;
                }

                if (errno == NoBufferSpace)
                {
                    Thread.Yield();
                    continue;
                }

                throw new SocketException(errno);
            }

            sent += result;
        }

        return sent;
    }

    public void Dispose()
    {
        NativeMemory.Free(_vectors);
        NativeMemory.Free(_messages);
        _socket.Dispose();
    }

    private const int ConnectionRefused = 111;
    private const int WouldBlockOrAgain = 11;
    private const int NoBufferSpace = 105;

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    private static partial int SendMultiple(int socket, MultipleMessageHeader* messages, uint count, int flags);
}
