using System.Buffers.Binary;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Exporters.Evidence;

/// <summary>Told of each frame a <see cref="FrameRing"/> holds, oldest first; the frame is lent for the call only.</summary>
public interface IFrameVisitor
{
    void OnFrame(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength);
}

/// <summary>
/// The last frames a capture source saw, in one fixed block of memory: each frame (cut to the snap length) goes in
/// after the one before, and the oldest are overwritten once the block is full. Appending copies the frame and takes
/// an uncontended lock; nothing is allocated. Readers keep a cursor (a position in the stream of bytes ever
/// appended), so a recording can read what came since it last looked and knows what it missed when the ring lapped
/// it.
/// </summary>
public sealed class FrameRing
{
    // Each entry: Unix microseconds (8), length on the wire (4), captured length (2), link type (2), then the frame,
    // padded to 8 bytes. An entry that would run past the end starts again at the front; the gap is marked.
    private const int HeaderLength = 16;
    private const ushort GapMarker = ushort.MaxValue;

    private readonly byte[] _buffer;
    private readonly Lock _lock = new();
    private long _head;
    private long _tail;
    private long _frames;
    private long _overwritten;

    /// <param name="name">What the ring holds frames of: an interface, or a flow listener's sampled headers.</param>
    /// <param name="capacityBytes">Memory held, at least 64 KiB.</param>
    /// <param name="snapLength">Bytes kept of each frame.</param>
    public FrameRing(string name, int capacityBytes, int snapLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 64 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        Name = name;
        SnapLength = Math.Min(snapLength, ushort.MaxValue - 1);
        _buffer = new byte[capacityBytes & ~7];
    }

    public string Name { get; }

    public int SnapLength { get; }

    public int CapacityBytes => _buffer.Length;

    /// <summary>Frames appended since the ring was made.</summary>
    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Frames overwritten by newer ones.</summary>
    public long Overwritten => Interlocked.Read(ref _overwritten);

    /// <summary>The position after the newest frame: a cursor from here reads only what comes next.</summary>
    public long Head
    {
        get
        {
            lock (_lock)
            {
                return _head;
            }
        }
    }

    /// <summary>The position of the oldest frame held: a cursor from here reads everything the ring has.</summary>
    public long Tail
    {
        get
        {
            lock (_lock)
            {
                return _tail;
            }
        }
    }

    /// <summary>Keeps a frame, cut to <see cref="SnapLength"/>; the oldest frames make room. Frames of no known link type are not kept.</summary>
    public void Append(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength)
    {
        if ((ushort)linkType == GapMarker)
        {
            return;
        }

        if (frame.Length > SnapLength)
        {
            frame = frame[..SnapLength];
        }

        var size = HeaderLength + ((frame.Length + 7) & ~7);
        var capacity = _buffer.Length;
        lock (_lock)
        {
            var position = _head;
            var offset = (int)(position % capacity);
            var room = capacity - offset;
            if (room < size)
            {
                // The frame would wrap: the rest of this lap is a gap, and the frame starts at the front.
                MakeRoom(position + room + size);
                if (room >= HeaderLength)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(offset + 14), GapMarker);
                }

                position += room;
                offset = 0;
            }
            else
            {
                MakeRoom(position + size);
            }

            var entry = _buffer.AsSpan(offset, size);
            BinaryPrimitives.WriteInt64LittleEndian(entry, unixMicroseconds);
            BinaryPrimitives.WriteInt32LittleEndian(entry[8..], wireLength);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[12..], (ushort)frame.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[14..], (ushort)linkType);
            frame.CopyTo(entry[HeaderLength..]);
            _head = position + size;
            _frames++;
        }
    }

    /// <summary>
    /// Visits the frames from <paramref name="cursor"/> to the newest, oldest first, and moves the cursor past them.
    /// Returns the bytes the ring overwrote before they were read (0 when nothing was missed). The visitor runs under
    /// the ring's lock: it must only copy out what it keeps.
    /// </summary>
    public long Read<TVisitor>(ref long cursor, ref TVisitor visitor)
        where TVisitor : struct, IFrameVisitor
    {
        var capacity = _buffer.Length;
        lock (_lock)
        {
            long missed = 0;
            if (cursor < _tail)
            {
                missed = _tail - cursor;
                cursor = _tail;
            }

            while (cursor < _head)
            {
                var offset = (int)(cursor % capacity);
                var room = capacity - offset;
                if (room < HeaderLength || BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(offset + 14)) == GapMarker)
                {
                    cursor += room;
                    continue;
                }

                var entry = _buffer.AsSpan(offset);
                var captured = BinaryPrimitives.ReadUInt16LittleEndian(entry[12..]);
                visitor.OnFrame(
                    entry.Slice(HeaderLength, captured),
                    (LinkType)BinaryPrimitives.ReadUInt16LittleEndian(entry[14..]),
                    BinaryPrimitives.ReadInt64LittleEndian(entry),
                    BinaryPrimitives.ReadInt32LittleEndian(entry[8..]));
                cursor += HeaderLength + ((captured + 7) & ~7);
            }

            return missed;
        }
    }

    /// <summary>Moves the oldest entries out until the stream up to <paramref name="end"/> fits.</summary>
    private void MakeRoom(long end)
    {
        var capacity = _buffer.Length;
        while (end - _tail > capacity)
        {
            var offset = (int)(_tail % capacity);
            var room = capacity - offset;
            if (room < HeaderLength || BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(offset + 14)) == GapMarker)
            {
                _tail += room;
                continue;
            }

            var captured = BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(offset + 12));
            _tail += HeaderLength + ((captured + 7) & ~7);
            _overwritten++;
        }
    }
}
