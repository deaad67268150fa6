using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Turns one received datagram into records in a shard; a struct, so that the receive loop's call is direct and
/// nothing is allocated per datagram. False when the datagram held nothing the handler understands.
/// </summary>
internal interface IDatagramHandler
{
    bool Handle(ReadOnlySpan<byte> datagram, NetworkAddress sender, long nowMilliseconds, AggregationShard shard);
}

/// <summary>What a receive loop counts; shared by the loops of one source's sockets.</summary>
internal sealed class DatagramCounters
{
    private long _received;
    private long _rejected;
    private long _unrecognized;
    private long _receiveErrors;

    public long Received => Interlocked.Read(ref _received);

    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Datagrams the handler did not understand (for mirrored traffic: frames that are not IP).</summary>
    public long Unrecognized => Interlocked.Read(ref _unrecognized);

    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    public void CountReceived() => Interlocked.Increment(ref _received);

    /// <summary>A batch's worth at once: one shared write per batch rather than one per datagram.</summary>
    public void CountReceived(int count) => Interlocked.Add(ref _received, count);

    public void CountRejected() => Interlocked.Increment(ref _rejected);

    public void CountUnrecognized() => Interlocked.Increment(ref _unrecognized);

    public void CountReceiveError() => Interlocked.Increment(ref _receiveErrors);
}

/// <summary>
/// The one receive loop of every datagram source: datagrams taken in batches (one <c>recvmmsg</c> for up to 32), each
/// sender checked against the allowlist, the handler run inside the shard's guard, held once per batch. It ends when
/// the socket is closed; any other receive error is counted and logged at most once a minute, never ending the
/// loop. Where the batch call does not exist, one datagram per call through a pinned buffer.
/// </summary>
internal static partial class DatagramLoop
{
    private const int MaxDatagram = 65_535;
    private const long ErrorLogIntervalMilliseconds = 60_000;

    /// <summary>
    /// A batch receive waits without end: closing the socket shuts it down first, which wakes the wait, so a quiet
    /// port costs no wake-ups (router mode's tick stays the only thread that wakes each second).
    /// </summary>
    private const int PollMilliseconds = Timeout.Infinite;

    public static void Run<THandler>(Socket socket, THandler handler, AggregationShard shard, ExporterAllowlist allowlist, TimeProvider time, DatagramCounters counters, string name, ILogger logger)
        where THandler : struct, IDatagramHandler =>
        Run(socket, handler, shard, allowlist, time, counters, name, logger, batched: BatchReceiver.IsSupported);

    /// <summary>As above, in batches or one datagram per call as told: tests run the fallback where batches exist.</summary>
    internal static void Run<THandler>(Socket socket, THandler handler, AggregationShard shard, ExporterAllowlist allowlist, TimeProvider time, DatagramCounters counters, string name, ILogger logger, bool batched)
        where THandler : struct, IDatagramHandler
    {
        if (batched)
        {
            RunBatched(socket, handler, shard, allowlist, time, counters, name, logger);
        }
        else
        {
            RunSingly(socket, handler, shard, allowlist, time, counters, name, logger);
        }
    }

    /// <summary>Batches: one system call, one clock reading and one shard entry for every datagram the socket holds (up to 32).</summary>
    private static void RunBatched<THandler>(Socket socket, THandler handler, AggregationShard shard, ExporterAllowlist allowlist, TimeProvider time, DatagramCounters counters, string name, ILogger logger)
        where THandler : struct, IDatagramHandler
    {
        using var receiver = new BatchReceiver();
        long lastErrorLogged = long.MinValue;
        while (!socket.SafeHandle.IsClosed)
        {
            int count;
            int error;
            try
            {
                count = receiver.Receive(socket.SafeHandle, PollMilliseconds, out error);
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (count < 0)
            {
                if (socket.SafeHandle.IsClosed)
                {
                    return;
                }

                if (BatchReceiver.IsMissing(error))
                {
                    RunSingly(socket, handler, shard, allowlist, time, counters, name, logger);
                    return;
                }

                counters.CountReceiveError();
                if (DueToLog(ref lastErrorLogged))
                {
                    var reason = Marshal.GetPInvokeErrorMessage(error);
                    LogBatchReceiveFailed(logger, name, reason);
                }

                continue;
            }

            if (count == 0)
            {
                continue;
            }

            counters.CountReceived(count);
            var milliseconds = time.GetUtcNow().ToUnixTimeMilliseconds();
            shard.Enter();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    if (receiver.Truncated(i))
                    {
                        counters.CountReceiveError();
                        continue;
                    }

                    Deliver(ref handler, receiver.Datagram(i), receiver.Sender(i), milliseconds, shard, allowlist, counters);
                }
            }
            finally
            {
                shard.Exit();
            }
        }
    }

    private static void RunSingly<THandler>(Socket socket, THandler handler, AggregationShard shard, ExporterAllowlist allowlist, TimeProvider time, DatagramCounters counters, string name, ILogger logger)
        where THandler : struct, IDatagramHandler
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var address = new SocketAddress(socket.AddressFamily);
        long lastErrorLogged = long.MinValue;
        while (true)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, address);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception)
            {
                if (socket.SafeHandle.IsClosed || exception.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown)
                {
                    // The socket was closed under the call: the source is stopping.
                    return;
                }

                counters.CountReceiveError();
                if (DueToLog(ref lastErrorLogged))
                {
                    LogReceiveFailed(logger, exception, name);
                }

                continue;
            }

            counters.CountReceived();
            var milliseconds = time.GetUtcNow().ToUnixTimeMilliseconds();
            shard.Enter();
            try
            {
                Deliver(ref handler, buffer.AsSpan(0, length), SenderOf(address.Buffer.Span, address.Family == AddressFamily.InterNetworkV6), milliseconds, shard, allowlist, counters);
            }
            finally
            {
                shard.Exit();
            }
        }
    }

    /// <summary>One received datagram, inside the shard's guard: dropped and counted unless its sender is allowed, else handed to the handler.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deliver<THandler>(ref THandler handler, ReadOnlySpan<byte> datagram, NetworkAddress sender, long milliseconds, AggregationShard shard, ExporterAllowlist allowlist, DatagramCounters counters)
        where THandler : struct, IDatagramHandler
    {
        if (!allowlist.Allows(sender))
        {
            counters.CountRejected();
        }
        else if (!handler.Handle(datagram, sender, milliseconds, shard))
        {
            counters.CountUnrecognized();
        }
    }

    /// <summary>Whether a receive error is to be logged now: at most once a minute, the rest only counted.</summary>
    private static bool DueToLog(ref long lastLogged)
    {
        var now = Environment.TickCount64;
        if (now - lastLogged < ErrorLogIntervalMilliseconds)
        {
            return false;
        }

        lastLogged = now;
        return true;
    }

    /// <summary>
    /// The sender's address from a received socket address in the kernel's layout (IPv4-mapped when it came over
    /// IPv4): the port's two bytes after the family, then the IPv4 address; or, for IPv6, the flow label first.
    /// </summary>
    internal static NetworkAddress SenderOf(ReadOnlySpan<byte> socketAddress, bool isIPv6) =>
        isIPv6
            ? NetworkAddress.FromIPv6(socketAddress.Slice(8, 16))
            : NetworkAddress.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(socketAddress[4..]));

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Source}: receive failed: {Reason} (said at most once a minute; flowcollector_source_events_total{{event=\"receive_errors\"}} counts them)")]
    private static partial void LogBatchReceiveFailed(ILogger logger, string source, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Source}: receive failed (said at most once a minute; flowcollector_source_events_total{{event=\"receive_errors\"}} counts them)")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception, string source);
}
