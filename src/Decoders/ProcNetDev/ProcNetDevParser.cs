using System.Buffers.Text;

namespace FlowCollector.Decoders.ProcNetDev;

/// <summary>Receives the interfaces of one <c>/proc/net/dev</c> read; the name is valid only during the call.</summary>
public interface IInterfaceCountersSink
{
    void OnInterface(ReadOnlySpan<byte> name, in InterfaceCounters counters);
}

/// <summary>
/// Parses Linux <c>/proc/net/dev</c> (net/core/net-procfs.c): two header lines, then per interface its name, a
/// colon, eight receive counters (bytes, packets, errs, drop, fifo, frame, compressed, multicast) and eight
/// transmit counters (bytes, packets, errs, drop, fifo, colls, carrier, compressed), all 64-bit on 64-bit kernels.
/// Reads the bytes in place; a malformed line is skipped and counted, never thrown on.
/// </summary>
public static class ProcNetDevParser
{
    private const int FieldCount = 16;
    private const int ReceiveBytes = 0;
    private const int ReceivePackets = 1;
    private const int ReceiveErrors = 2;
    private const int ReceiveDrops = 3;
    private const int TransmitBytes = 8;
    private const int TransmitPackets = 9;
    private const int TransmitErrors = 10;
    private const int TransmitDrops = 11;

    private const KnownCounters Known = KnownCounters.InOctets | KnownCounters.InUnicast | KnownCounters.InErrors | KnownCounters.InDiscards
        | KnownCounters.OutOctets | KnownCounters.OutUnicast | KnownCounters.OutErrors | KnownCounters.OutDiscards;

    /// <summary>Parses one read of the file; returns the interfaces delivered.</summary>
    public static int Parse<TSink>(ReadOnlySpan<byte> text, long timestampMilliseconds, ref TSink sink, out int malformedLines)
        where TSink : IInterfaceCountersSink
    {
        malformedLines = 0;
        var interfaces = 0;
        Span<ulong> fields = stackalloc ulong[FieldCount];
        while (!text.IsEmpty)
        {
            var end = text.IndexOf((byte)'\n');
            var line = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];

            // Header lines have a '|' where interface lines have their colon.
            var colon = line.IndexOf((byte)':');
            if (colon < 0 || line.Contains((byte)'|'))
            {
                continue;
            }

            var name = line[..colon].Trim((byte)' ');
            if (name.IsEmpty || !TryParseFields(line[(colon + 1)..], fields))
            {
                malformedLines++;
                continue;
            }

            // rx packets already include multicast: they are kept as one total in the unicast counter.
            var counters = new InterfaceCounters
            {
                Source = CounterSource.ProcNetDev,
                Known = Known,
                IsUp = true,
                InOctets = fields[ReceiveBytes],
                InUnicastPackets = fields[ReceivePackets],
                InErrors = fields[ReceiveErrors],
                InDiscards = fields[ReceiveDrops],
                OutOctets = fields[TransmitBytes],
                OutUnicastPackets = fields[TransmitPackets],
                OutErrors = fields[TransmitErrors],
                OutDiscards = fields[TransmitDrops],
                TimestampMilliseconds = timestampMilliseconds,
            };
            sink.OnInterface(name, counters);
            interfaces++;
        }

        return interfaces;
    }

    private static bool TryParseFields(ReadOnlySpan<byte> values, Span<ulong> fields)
    {
        for (var i = 0; i < FieldCount; i++)
        {
            values = values.TrimStart((byte)' ');
            if (!Utf8Parser.TryParse(values, out ulong value, out var consumed) || consumed == 0)
            {
                return false;
            }

            fields[i] = value;
            values = values[consumed..];
        }

        return true;
    }
}
