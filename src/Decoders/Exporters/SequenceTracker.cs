namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// Follows the export sequence of each (version, domain) of one exporter to count what was lost on the way.
/// Differences are taken modulo 2^32; an exporter whose uptime goes backwards has restarted.
/// </summary>
internal sealed class SequenceTracker
{
    /// <summary>Gaps larger than this are a restart or corruption, not loss.</summary>
    private const int MaxPlausibleGap = 1 << 24;

    private const int MaxStreams = 1024;

    private readonly Dictionary<ulong, Stream> _streams = [];

    /// <summary>
    /// Records one datagram. <paramref name="increment"/> is what the sequence advances by for it, or null when it
    /// cannot be known (records of an unknown template): the next datagram then starts a fresh expectation.
    /// </summary>
    public void Observe(ExporterStatistics statistics, byte version, uint domain, uint sequence, uint? increment, uint? uptimeMilliseconds)
    {
        var key = ((ulong)version << 32) | domain;
        if (!_streams.TryGetValue(key, out var stream))
        {
            if (_streams.Count >= MaxStreams)
            {
                return;
            }

            stream = default;
        }

        // Uptime wraps after 2^32 ms (49.7 days): only a step back of less than half the range is a restart.
        var restarted = stream.HasUptime && uptimeMilliseconds is { } uptime
            && uptime < stream.LastUptime && stream.LastUptime - uptime < 0x8000_0000u;
        var isLate = false;
        if (stream.Known && !restarted)
        {
            var gap = (int)(sequence - stream.Expected);
            if (gap > 0 && gap <= MaxPlausibleGap)
            {
                statistics.SequenceLost += gap;
                stream.Lost += gap;
            }
            else if (gap < 0 && gap >= -MaxPlausibleGap)
            {
                statistics.SequenceLate++;
                stream.Late++;
                isLate = true;
            }
            else if (gap != 0)
            {
                statistics.SequenceResets++;
                stream.Resets++;
            }
        }
        else if (restarted)
        {
            statistics.SequenceResets++;
            stream.Resets++;
        }

        if (!isLate)
        {
            stream.Known = increment.HasValue;
            stream.Expected = sequence + increment.GetValueOrDefault();
            if (uptimeMilliseconds is { } current)
            {
                stream.HasUptime = true;
                stream.LastUptime = current;
            }
        }

        _streams[key] = stream;
    }

    /// <summary>What was lost, late or reset in each (version, domain) stream of the exporter.</summary>
    public SequenceStreamStatistics[] Snapshot() =>
        [.. _streams.Select(pair => new SequenceStreamStatistics((byte)(pair.Key >> 32), (uint)pair.Key, pair.Value.Lost, pair.Value.Late, pair.Value.Resets))];

    private struct Stream
    {
        public long Lost;
        public long Late;
        public long Resets;
        public bool Known;
        public uint Expected;
        public bool HasUptime;
        public uint LastUptime;
    }
}

/// <summary>Sequence accounting of one export stream: a protocol version and an observation domain (or source ID).</summary>
public readonly record struct SequenceStreamStatistics(byte Version, uint Domain, long Lost, long Late, long Resets);
