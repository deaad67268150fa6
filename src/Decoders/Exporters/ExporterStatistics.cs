namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// Counters of one exporter. Written by the one thread that decodes for the exporter; read by anyone
/// (64-bit reads are atomic on the platforms we run on).
/// </summary>
public sealed class ExporterStatistics
{
    private static readonly int StatusCount = Enum.GetValues<DecodeStatus>().Length;
    private readonly long[] _byStatus = new long[StatusCount];

    private long _datagrams;

    public long Datagrams => Interlocked.Read(ref _datagrams);

    /// <summary>Flow records delivered.</summary>
    public long Records { get; internal set; }

    /// <summary>Interface counter snapshots delivered (sFlow counter samples).</summary>
    public long CounterRecords { get; internal set; }

    /// <summary>Options data records read (sampling, system init time, ...).</summary>
    public long OptionsRecords { get; internal set; }

    public long TemplatesAdded { get; internal set; }

    public long TemplatesReplaced { get; internal set; }

    public long TemplatesWithdrawn { get; internal set; }

    public long TemplatesExpired { get; internal set; }

    /// <summary>Well-formed templates not stored because a cache limit was reached.</summary>
    public long TemplatesRejected { get; internal set; }

    /// <summary>Data sets held because their template had not arrived yet.</summary>
    public long DataSetsHeld { get; internal set; }

    /// <summary>Held data sets decoded once their template came.</summary>
    public long DataSetsDecodedLate { get; internal set; }

    /// <summary>Held data sets dropped: their template did not come in time, or the holding buffer was full.</summary>
    public long DataSetsDropped { get; internal set; }

    /// <summary>
    /// Sequence numbers skipped: flows for NetFlow v5, export datagrams for NetFlow v9, data records for IPFIX
    /// (each protocol counts what its sequence counts).
    /// </summary>
    public long SequenceLost { get; internal set; }

    /// <summary>Datagrams whose sequence number was behind the expected one (late or duplicated).</summary>
    public long SequenceLate { get; internal set; }

    /// <summary>Sequence restarts (exporter reboot, or a jump too large to be loss).</summary>
    public long SequenceResets { get; internal set; }

    /// <summary>Samples an sFlow agent reported dropping (its drops counter) between the samples received.</summary>
    public long SamplesDropped { get; internal set; }

    /// <summary>sFlow samples missing from a data source's sample sequence (lost on the way or dropped).</summary>
    public long SamplesLost { get; internal set; }

    public long CountOf(DecodeStatus status) => Volatile.Read(ref _byStatus[(int)status]);

    /// <summary>Counts one datagram's outcome; atomic, because datagrams of unknown exporters share one instance.</summary>
    internal void Count(DecodeStatus status)
    {
        Interlocked.Increment(ref _datagrams);
        Interlocked.Increment(ref _byStatus[(int)status]);
    }
}
