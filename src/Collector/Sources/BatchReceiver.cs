using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FlowCollector.Collector.Runtime;
using FlowCollector.Decoders;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Receives up to <see cref="Batch"/> datagrams with one <c>recvmmsg</c> system call, each into a slot of its own
/// with its sender's address, instead of one <c>recvfrom</c> per datagram. The slots live in native memory, outside
/// the GC: 32 × 64 KiB of address space, of which only the pages datagrams are written to become resident (a
/// 1,500-byte export touches one page of its slot). Linux only; the loop falls back to one datagram per call
/// elsewhere. Used by one thread.
/// </summary>
internal sealed unsafe partial class BatchReceiver : IDisposable
{
    /// <summary>Datagrams per call: enough to take one system call from every datagram's cost, few enough to keep the slots' pages warm.</summary>
    public const int Batch = 32;

    /// <summary>Room for the largest UDP payload, so that no datagram is ever cut.</summary>
    public const int SlotBytes = 65_536;

    private const int AddressBytes = 128;
    private const ushort AddressFamilyIPv6 = 10;
    private const int MessageDontWait = 0x40;
    private const int MessageTruncated = 0x20;
    private const short PollIn = 0x001;
    private const int ErrorInterrupted = 4;
    private const int ErrorAgain = 11;
    private const int ErrorNotImplemented = 38;

    private readonly byte* _slots;
    private readonly byte* _addresses;
    private readonly IoVector* _vectors;
    private readonly MultipleMessageHeader* _headers;
    private int _disposed;

    public BatchReceiver()
    {
        _slots = (byte*)NativeMemory.Alloc((nuint)Batch * SlotBytes);
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)Batch * AddressBytes);
        _vectors = (IoVector*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(IoVector)));
        _headers = (MultipleMessageHeader*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(MultipleMessageHeader)));
        for (var i = 0; i < Batch; i++)
        {
            _vectors[i] = new IoVector { Base = _slots + ((nint)i * SlotBytes), Length = SlotBytes };
            _headers[i].Header.Name = _addresses + (i * AddressBytes);
            _headers[i].Header.Vector = _vectors + i;
            _headers[i].Header.VectorLength = 1;
        }
    }

    /// <summary>Whether this system has the call (Linux); elsewhere the loop receives one datagram at a time.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> for the socket to be readable, then takes what it holds,
    /// up to <see cref="Batch"/> datagrams, without waiting further. Returns how many (0 when none came in time, or
    /// the wait was interrupted), or -1 with the error number.
    /// </summary>
    public int Receive(SafeHandle socket, int timeoutMilliseconds, out int error)
    {
        ArgumentNullException.ThrowIfNull(socket);
        error = 0;
        var added = false;
        try
        {
            // Held while the descriptor is in use, so that a close from another thread cannot hand its number to a new file.
            socket.DangerousAddRef(ref added);
            var descriptor = (int)socket.DangerousGetHandle();
            var poll = new PollDescriptor { Descriptor = descriptor, Events = PollIn };
            var ready = Poll(&poll, 1, timeoutMilliseconds);
            if (ready <= 0)
            {
                error = ready < 0 ? Marshal.GetLastPInvokeError() : 0;
                return ready == 0 || error == ErrorInterrupted ? 0 : -1;
            }

            for (var i = 0; i < Batch; i++)
            {
                _headers[i].Header.NameLength = AddressBytes;
                _headers[i].Header.Flags = 0;
            }

            var received = ReceiveMessages(descriptor, _headers, Batch, MessageDontWait, null);
            if (received >= 0)
            {
                return received;
            }

            error = Marshal.GetLastPInvokeError();
            return error is ErrorAgain or ErrorInterrupted ? 0 : -1;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>The call does not exist on this kernel: receive one datagram at a time instead.</summary>
    public static bool IsMissing(int error) => error == ErrorNotImplemented;

    /// <summary>The <paramref name="index"/>-th datagram of the last batch.</summary>
    public ReadOnlySpan<byte> Datagram(int index) => new(_slots + ((nint)index * SlotBytes), (int)Math.Min(_headers[index].Length, SlotBytes));

    /// <summary>Whether the kernel cut the datagram to fit its slot (never, with 64 KiB slots; checked all the same).</summary>
    public bool Truncated(int index) => (_headers[index].Header.Flags & MessageTruncated) != 0;

    /// <summary>Who sent the <paramref name="index"/>-th datagram (IPv4-mapped when it came over IPv4), from its socket address.</summary>
    public NetworkAddress Sender(int index)
    {
        var address = new ReadOnlySpan<byte>(_addresses + (index * AddressBytes), AddressBytes);
        return DatagramLoop.SenderOf(address, isIPv6: BinaryPrimitives.ReadUInt16LittleEndian(address) == AddressFamilyIPv6);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        NativeMemory.Free(_slots);
        NativeMemory.Free(_addresses);
        NativeMemory.Free(_vectors);
        NativeMemory.Free(_headers);
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    private static partial int ReceiveMessages(int descriptor, MultipleMessageHeader* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
