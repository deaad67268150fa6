namespace FlowCollector.Decoders.Templates;

/// <summary>What the records of one data set share: who exported them, in which domain, and the export clock.</summary>
internal readonly struct DataSetContext(
    ExportFormat format,
    NetworkAddress exporter,
    uint domain,
    long exportMilliseconds,
    uint systemUptimeMilliseconds,
    bool hasSystemUptime)
{
    public ExportFormat Format { get; } = format;

    public NetworkAddress Exporter { get; } = exporter;

    public uint Domain { get; } = domain;

    /// <summary>The export time in the datagram header, Unix milliseconds.</summary>
    public long ExportMilliseconds { get; } = exportMilliseconds;

    /// <summary>NetFlow v9 header sysUptime: what uptime-relative record times are measured against.</summary>
    public uint SystemUptimeMilliseconds { get; } = systemUptimeMilliseconds;

    public bool HasSystemUptime { get; } = hasSystemUptime;
}
