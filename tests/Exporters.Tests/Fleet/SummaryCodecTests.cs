using FlowCollector.Decoders;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Fleet;

namespace FlowCollector.Exporters.Tests.Fleet;

public sealed class SummaryCodecTests
{
    private const long Second = 1_796_400_000;

    private static SummaryEntry[] Entries()
    {
        var victim = new SummaryEntry { Kind = KeyKind.Destination, Address = NetworkAddress.Parse("203.0.113.10"), PrefixLength = 32 };
        victim.Counts.Packets = 1520.5;
        victim.Counts.Bytes = 1_824_600;
        victim.Counts.UdpPackets = 1520;
        victim.Counts.FragmentPackets = 12;
        victim.SourcePorts.Add(TrafficSample.PortKey(17, 53), 1500);
        victim.SourcePorts.Add(TrafficSample.PortKey(17, 123), 20);
        var prefix = new SummaryEntry { Kind = KeyKind.Prefix, Address = NetworkAddress.Parse("2001:db8::"), PrefixLength = 32, Destinations = 41 };
        prefix.Counts.Packets = 7;
        prefix.Counts.SynPackets = 3;
        return [victim, prefix];
    }

    private static byte[] Encode(SummaryEntry[] entries, int cut = 0)
    {
        var buffer = new byte[SummaryCodec.HeaderSize + (entries.Length * SummaryCodec.MaxEntrySize)];
        var length = SummaryCodec.WritePart(buffer, Second, (Second * 1000) + 250, entries, cut, part: 0);
        return buffer[..length];
    }

    [Fact]
    public void WritePart_ThenRead_GivesBackEveryFieldAndPort()
    {
        var entries = Entries();
        var message = Encode(entries, cut: 17);
        Assert.True(SummaryCodec.TryReadHeader(message, out var header));
        Assert.Equal(new SummaryHeader(Second, (Second * 1000) + 250, 2, 17, 0), header);
        var offset = SummaryCodec.HeaderSize;
        for (var i = 0; i < entries.Length; i++)
        {
            Assert.True(SummaryCodec.TryReadEntry(message, ref offset, out var read));
            Assert.Equal(entries[i].Kind, read.Kind);
            Assert.Equal(entries[i].Address, read.Address);
            Assert.Equal(entries[i].PrefixLength, read.PrefixLength);
            Assert.Equal(entries[i].Destinations, read.Destinations);
            Assert.Equal(entries[i].Counts.Packets, read.Counts.Packets, 3);
            Assert.Equal(entries[i].Counts.Bytes, read.Counts.Bytes, 0);
            Assert.Equal(entries[i].Counts.FragmentPackets, read.Counts.FragmentPackets);
            Assert.Equal(entries[i].Counts.SynPackets, read.Counts.SynPackets);
            Assert.Equal(entries[i].SourcePorts.ToSortedArray(), read.SourcePorts.ToSortedArray());
        }

        Assert.Equal(message.Length, offset);
    }

    [Fact]
    public void TryRead_OfEveryTruncationAndEveryFlippedByte_NeverThrowsAndNeverReadsPastTheEnd()
    {
        var message = Encode(Entries());
        for (var length = 0; length < message.Length; length++)
        {
            ReadAll(message[..length]);
        }

        for (var i = 0; i < message.Length; i++)
        {
            foreach (var value in new byte[] { 0x00, 0xFF, 0x80, 0x7F })
            {
                var damaged = (byte[])message.Clone();
                damaged[i] = value;
                ReadAll(damaged);
            }
        }
    }

    [Fact]
    public void TryReadEntry_RefusesCountsThatAreNegativeOrNotFinite_AndKindsAndLengthsThatCannotBe()
    {
        foreach (var damage in new Action<SummaryEntry[]>[]
        {
            e => e[0].Counts.Packets = -1,
            e => e[0].Counts.Bytes = double.NaN,
            e => e[0].Counts.Flows = double.PositiveInfinity,
            e => e[0].Kind = KeyKind.Interface,
            e => e[0].PrefixLength = 33,
        })
        {
            var entries = Entries();
            damage(entries);
            var message = Encode(entries);
            var offset = SummaryCodec.HeaderSize;
            Assert.False(SummaryCodec.TryReadEntry(message, ref offset, out _));
            Assert.Equal(SummaryCodec.HeaderSize, offset);
        }
    }

    [Fact]
    public void TryReadHeader_RefusesAnotherMagicAVersionItDoesNotKnowAndMoreEntriesThanTheMessageHolds()
    {
        var message = Encode(Entries());
        Assert.False(SummaryCodec.TryReadHeader(message.AsSpan(0, SummaryCodec.HeaderSize - 1), out _));
        var other = (byte[])message.Clone();
        other[0] = (byte)'X';
        Assert.False(SummaryCodec.TryReadHeader(other, out _));
        var newer = (byte[])message.Clone();
        newer[4] = 2;
        Assert.False(SummaryCodec.TryReadHeader(newer, out _));
        var inflated = (byte[])message.Clone();
        BitConverter.TryWriteBytes(inflated.AsSpan(24), 1_000_000);
        Assert.False(SummaryCodec.TryReadHeader(inflated, out _));
    }

    private static void ReadAll(byte[] message)
    {
        if (!SummaryCodec.TryReadHeader(message, out var header))
        {
            return;
        }

        var offset = SummaryCodec.HeaderSize;
        for (var i = 0; i < header.Entries; i++)
        {
            var before = offset;
            if (!SummaryCodec.TryReadEntry(message, ref offset, out _))
            {
                Assert.Equal(before, offset);
                return;
            }

            Assert.InRange(offset, before + SummaryCodec.FixedEntrySize, message.Length);
        }
    }
}
