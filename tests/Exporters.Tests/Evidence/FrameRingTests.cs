using FlowCollector.Decoders.Packets;
using FlowCollector.Exporters.Evidence;

namespace FlowCollector.Exporters.Tests.Evidence;

public sealed class FrameRingTests
{
    private const int Capacity = 64 * 1024;

    [Fact]
    public void Read_FromTheTail_GivesEveryFrameInOrderWithItsTimeAndLengths()
    {
        var ring = new FrameRing("eth1", Capacity, 256);
        for (var i = 0; i < 100; i++)
        {
            ring.Append(Frame(i, 60 + i), LinkType.Ethernet, 1_000_000 + i, 1000 + i);
        }

        var seen = Visit(ring, ring.Tail, out var missed);

        Assert.Equal(0, missed);
        Assert.Equal(100, seen.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(Frame(i, 60 + i), seen[i].Bytes);
            Assert.Equal(1_000_000 + i, seen[i].Micros);
            Assert.Equal(1000 + i, seen[i].Wire);
            Assert.Equal(LinkType.Ethernet, seen[i].Link);
        }
    }

    [Fact]
    public void Append_LongerThanTheSnapLength_KeepsTheSnapAndTheWireLength()
    {
        var ring = new FrameRing("eth1", Capacity, 64);
        ring.Append(Frame(7, 1500), LinkType.Ethernet, 5, 1500);

        var seen = Assert.Single(Visit(ring, ring.Tail, out _));

        Assert.Equal(Frame(7, 1500)[..64], seen.Bytes);
        Assert.Equal(1500, seen.Wire);
    }

    [Fact]
    public void Append_PastTheCapacity_OverwritesTheOldestAndKeepsTheNewestWhole()
    {
        var ring = new FrameRing("eth1", Capacity, 200);
        const int Frames = 5000;
        for (var i = 0; i < Frames; i++)
        {
            // Sizes that do not divide the capacity, so that entries wrap at every offset.
            ring.Append(Frame(i, 61 + (i % 130)), LinkType.Ethernet, i, 61 + (i % 130));
        }

        var seen = Visit(ring, ring.Tail, out _);

        Assert.InRange(seen.Count, 100, Frames - 1);
        Assert.Equal(Frames - seen.Count, ring.Overwritten);
        for (var k = 0; k < seen.Count; k++)
        {
            var i = Frames - seen.Count + k;
            Assert.Equal(i, seen[k].Micros);
            Assert.Equal(Frame(i, 61 + (i % 130)), seen[k].Bytes);
        }
    }

    [Fact]
    public void Read_ACursorTheRingLapped_SaysWhatWasMissedAndGoesOnFromTheOldest()
    {
        var ring = new FrameRing("eth1", Capacity, 200);
        var cursor = ring.Head;
        for (var i = 0; i < 2000; i++)
        {
            ring.Append(Frame(i, 150), LinkType.Ethernet, i, 150);
        }

        var seen = Visit(ring, cursor, out var missed);

        Assert.True(missed > 0);
        Assert.Equal(2000 - ring.Overwritten, seen.Count);
        Assert.Equal(ring.Overwritten, seen[0].Micros);
    }

    [Fact]
    public void Read_TwiceWithTheSameCursor_GivesOnlyWhatCameSince()
    {
        var ring = new FrameRing("eth1", Capacity, 128);
        var cursor = ring.Head;
        ring.Append(Frame(1, 80), LinkType.Ethernet, 1, 80);
        var visitor = new Recorder();
        ring.Read(ref cursor, ref visitor);
        ring.Append(Frame(2, 80), LinkType.IPv4, 2, 80);
        var again = new Recorder();
        ring.Read(ref cursor, ref again);

        Assert.Equal(2, Assert.Single(again.Frames).Micros);
        Assert.Equal(LinkType.IPv4, again.Frames[0].Link);
    }

    [Fact]
    public void Append_WhenFull_AllocatesNothing()
    {
        var ring = new FrameRing("eth1", Capacity, 128);
        var frame = Frame(3, 128);
        for (var i = 0; i < 10_000; i++)
        {
            ring.Append(frame, LinkType.Ethernet, i, 128);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            ring.Append(frame, LinkType.Ethernet, i, 128);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task Append_WhileAnotherThreadReads_EveryFrameReadIsWhole()
    {
        var ring = new FrameRing("eth1", Capacity, 200);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                ring.Append(Frame(i & 0xFFFF, 60 + (i % 140)), LinkType.Ethernet, i & 0xFFFF, 60 + (i % 140));
            }
        });

        var cursor = ring.Tail;
        var checker = new Checker();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (checker.Frames < 100_000 && DateTime.UtcNow < deadline)
        {
            ring.Read(ref cursor, ref checker);
        }

        await stop.CancelAsync();
        await writer;
        Assert.True(checker.Frames > 0);
        Assert.Equal(0, checker.Torn);
    }

    /// <summary>A frame whose bytes say which it is and how long: a torn or misplaced read shows.</summary>
    private static byte[] Frame(int index, int length)
    {
        var frame = new byte[length];
        for (var i = 0; i < length; i++)
        {
            frame[i] = (byte)((index * 31) + i);
        }

        return frame;
    }

    private static List<(byte[] Bytes, LinkType Link, long Micros, int Wire)> Visit(FrameRing ring, long cursor, out long missed)
    {
        var visitor = new Recorder();
        missed = ring.Read(ref cursor, ref visitor);
        return visitor.Frames;
    }

    private readonly struct Recorder() : IFrameVisitor
    {
        public List<(byte[] Bytes, LinkType Link, long Micros, int Wire)> Frames { get; } = [];

        public void OnFrame(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength) =>
            Frames.Add((frame.ToArray(), linkType, unixMicroseconds, wireLength));
    }

    private struct Checker : IFrameVisitor
    {
        public long Frames;
        public long Torn;

        public void OnFrame(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength)
        {
            Frames++;
            var expected = Frame((int)unixMicroseconds, wireLength);
            if (!frame.SequenceEqual(expected))
            {
                Torn++;
            }
        }
    }
}
