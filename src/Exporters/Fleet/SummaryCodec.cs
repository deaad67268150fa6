using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowCollector.Decoders;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Exporters.Fleet;

/// <summary>The header of one summary message: which second, when it was taken, how many entries, how many were cut.</summary>
public readonly record struct SummaryHeader(long Second, long ObservedAtMilliseconds, int Entries, int Cut, int Part);

/// <summary>
/// A node's per-second summary on the wire: little-endian, fixed-size fields, so that the fleet reads 50,000 entries
/// a second without parsing text. Layout (version 1):
/// <code>
/// header  magic "FCS1" | u16 version | u16 part | i64 second | i64 observed-at ms | i32 entries | i32 cut
/// entry   u8 kind (2 destination, 3 prefix) | u8 prefix length | u64 address high | u64 address low (IPv4 mapped)
///         | 16 × f32 counts per second (packets, bytes, flows, TCP/UDP/ICMP/GRE/other packets, TCP/UDP/ICMP/other
///         bytes, SYN, ACK, RST, fragments) | i32 destinations | u8 n | n × (u32 protocol&lt;&lt;16|port, f32 pps)
/// </code>
/// A second's entries are split over parts of at most <see cref="EntriesPerPart"/>, each under NATS's default
/// 1 MiB payload limit.
/// </summary>
public static class SummaryCodec
{
    public const uint Magic = 0x31534346; // "FCS1" read little-endian
    public const ushort Version = 1;
    public const int HeaderSize = 32;
    public const int FixedEntrySize = 1 + 1 + 16 + (TrafficCounts.Fields * 4) + 4 + 1;
    public const int PortSize = 8;
    public const int MaxEntrySize = FixedEntrySize + (TopItems<uint>.Capacity * PortSize);
    public const int EntriesPerPart = 4000;

    /// <summary>
    /// The destinations and prefixes of a second, heaviest (packets) first, at most <paramref name="maxKeys"/>; the
    /// rest is counted in <paramref name="cut"/>. <paramref name="order"/> is scratch space kept by the caller.
    /// </summary>
    public static int Select(TrafficSecond second, int maxKeys, List<int> order, out int cut)
    {
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(order);
        order.Clear();
        var samples = second.Samples;
        for (var i = 0; i < samples.Length; i++)
        {
            if (samples[i].Key.Kind is KeyKind.Destination or KeyKind.Prefix && !samples[i].Counts.IsEmpty)
            {
                order.Add(i);
            }
        }

        cut = Math.Max(0, order.Count - maxKeys);
        if (cut > 0)
        {
            // Prefixes first (they carry what was cut of their destinations), then destinations by packets.
            order.Sort(new HeaviestFirst(second));
            order.RemoveRange(maxKeys, cut);
        }

        return order.Count;
    }

    private sealed class HeaviestFirst(TrafficSecond second) : IComparer<int>
    {
        public int Compare(int x, int y)
        {
            var samples = second.Samples;
            var kind = samples[y].Key.Kind.CompareTo(samples[x].Key.Kind);
            return kind != 0 ? kind : samples[y].Counts.Packets.CompareTo(samples[x].Counts.Packets);
        }
    }

    /// <summary>Writes one part: the header and the selected samples from <paramref name="from"/> on.</summary>
    public static int WritePart(Span<byte> destination, TrafficSecond second, MonitoredPrefixes prefixes, List<int> order, int from, int count, int cut, int part)
    {
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(prefixes);
        ArgumentNullException.ThrowIfNull(order);
        WriteHeader(destination, second.Second, second.ObservedAt.ToUnixTimeMilliseconds(), count, cut, part);
        var offset = HeaderSize;
        var samples = second.Samples;
        for (var i = from; i < from + count; i++)
        {
            ref readonly var sample = ref samples[order[i]];
            NetworkAddress address;
            int length;
            if (sample.Key.Kind == KeyKind.Prefix && sample.Key.Prefix >= 0 && sample.Key.Prefix < prefixes.Count)
            {
                var prefix = prefixes.Prefixes[sample.Key.Prefix];
                (address, length) = (prefix.Network, prefix.Length);
            }
            else
            {
                address = sample.Key.Address;
                length = address.IsIPv4 ? 32 : 128;
            }

            offset += WriteEntry(destination[offset..], sample.Key.Kind, address, length, sample.Counts, sample.Destinations, sample.SourcePorts);
        }

        return offset;
    }

    /// <summary>Writes one part from entries made elsewhere (a load generator, a test).</summary>
    public static int WritePart(Span<byte> destination, long second, long observedAtMilliseconds, ReadOnlySpan<SummaryEntry> entries, int cut, int part)
    {
        WriteHeader(destination, second, observedAtMilliseconds, entries.Length, cut, part);
        var offset = HeaderSize;
        foreach (ref readonly var entry in entries)
        {
            offset += WriteEntry(destination[offset..], entry.Kind, entry.Address, entry.PrefixLength, entry.Counts, entry.Destinations, entry.SourcePorts);
        }

        return offset;
    }

    private static void WriteHeader(Span<byte> destination, long second, long observedAtMilliseconds, int count, int cut, int part)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)part);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], second);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], observedAtMilliseconds);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], count);
        BinaryPrimitives.WriteInt32LittleEndian(destination[28..], part == 0 ? cut : 0);
    }

    private static int WriteEntry(Span<byte> entry, KeyKind kind, NetworkAddress address, int length, in TrafficCounts counts, int destinations, in TopItems<uint> ports)
    {
        entry[0] = (byte)kind;
        entry[1] = (byte)length;
        BinaryPrimitives.WriteUInt64LittleEndian(entry[2..], address.High);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[10..], address.Low);
        var values = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<TrafficCounts, double>(ref Unsafe.AsRef(in counts)), TrafficCounts.Fields);
        for (var c = 0; c < TrafficCounts.Fields; c++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(entry[(18 + (c * 4))..], (float)values[c]);
        }

        var at = 18 + (TrafficCounts.Fields * 4);
        BinaryPrimitives.WriteInt32LittleEndian(entry[at..], destinations);
        entry[at + 4] = (byte)ports.Count;
        at += 5;
        for (var p = 0; p < ports.Count; p++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(entry[at..], ports.ItemAt(p));
            BinaryPrimitives.WriteSingleLittleEndian(entry[(at + 4)..], (float)ports.WeightAt(p));
            at += PortSize;
        }

        return at;
    }

    /// <summary>Reads the header; false when the message is not a summary this version knows.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> message, out SummaryHeader header)
    {
        header = default;
        if (message.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(message) != Magic || BinaryPrimitives.ReadUInt16LittleEndian(message[4..]) != Version)
        {
            return false;
        }

        var entries = BinaryPrimitives.ReadInt32LittleEndian(message[24..]);
        var cut = BinaryPrimitives.ReadInt32LittleEndian(message[28..]);
        if (entries < 0 || cut < 0 || (long)entries * FixedEntrySize > message.Length - HeaderSize)
        {
            return false;
        }

        header = new SummaryHeader(BinaryPrimitives.ReadInt64LittleEndian(message[8..]), BinaryPrimitives.ReadInt64LittleEndian(message[16..]), entries, cut, BinaryPrimitives.ReadUInt16LittleEndian(message[6..]));
        return true;
    }

    /// <summary>
    /// Reads the entry at <paramref name="offset"/> and moves past it; false (and nothing read) when the entry is cut
    /// short or not valid: counts that are negative or not finite, a kind or length that cannot be.
    /// </summary>
    public static bool TryReadEntry(ReadOnlySpan<byte> message, ref int offset, out SummaryEntry entry)
    {
        entry = default;
        if (offset < HeaderSize || message.Length - offset < FixedEntrySize)
        {
            return false;
        }

        var data = message[offset..];
        var kind = (KeyKind)data[0];
        var length = data[1];
        var address = NetworkAddress.FromIPv6(BinaryPrimitives.ReadUInt64LittleEndian(data[2..]), BinaryPrimitives.ReadUInt64LittleEndian(data[10..]));
        if (kind is not (KeyKind.Destination or KeyKind.Prefix) || length > (address.IsIPv4 ? 32 : 128))
        {
            return false;
        }

        entry.Kind = kind;
        entry.Address = kind == KeyKind.Prefix ? IpPrefix.Mask(address, length) : address;
        entry.PrefixLength = length;
        ref var counts = ref Unsafe.As<TrafficCounts, double>(ref entry.Counts);
        for (var c = 0; c < TrafficCounts.Fields; c++)
        {
            var value = BinaryPrimitives.ReadSingleLittleEndian(data[(18 + (c * 4))..]);
            if (!float.IsFinite(value) || value < 0)
            {
                return false;
            }

            Unsafe.Add(ref counts, c) = value;
        }

        var at = 18 + (TrafficCounts.Fields * 4);
        entry.Destinations = Math.Max(0, BinaryPrimitives.ReadInt32LittleEndian(data[at..]));
        var ports = data[at + 4];
        at += 5;
        if (ports > TopItems<uint>.Capacity || data.Length - at < ports * PortSize)
        {
            return false;
        }

        for (var p = 0; p < ports; p++)
        {
            var weight = BinaryPrimitives.ReadSingleLittleEndian(data[(at + 4)..]);
            if (float.IsFinite(weight) && weight > 0)
            {
                entry.SourcePorts.Add(BinaryPrimitives.ReadUInt32LittleEndian(data[at..]), weight);
            }

            at += PortSize;
        }

        offset += at;
        return true;
    }
}
