namespace FlowCollector.Decoders;

/// <summary>
/// How decoding one datagram ended. Closed: each value feeds a counter labelled <c>reason</c>. When one datagram
/// has several problems the most serious is reported; records decoded before a problem are still delivered.
/// </summary>
public enum DecodeStatus : byte
{
    /// <summary>Every set and record was understood.</summary>
    Ok = 0,

    /// <summary>Shorter than its header, or a declared length runs past the end.</summary>
    Truncated,

    /// <summary>Not a version this decoder speaks.</summary>
    BadVersion,

    /// <summary>A header length field disagrees with the datagram.</summary>
    BadLength,

    /// <summary>A record count is impossible (NetFlow v5: more than 30, or not matching the length).</summary>
    BadCount,

    /// <summary>A set or flowset length is shorter than its header or longer than what remains.</summary>
    BadSetLength,

    /// <summary>A template definition is malformed (reserved ID, impossible field count, no room for its fields).</summary>
    BadTemplate,

    /// <summary>A template was well formed but not stored: the cache is at its limit.</summary>
    TemplateRejected,

    /// <summary>A data set arrived before its template; it is held briefly and decoded when the template comes.</summary>
    MissingTemplate,

    /// <summary>A record inside a data set is malformed (a variable-length field runs past the set).</summary>
    BadRecord,

    /// <summary>The exporter table is full and this exporter is not in it.</summary>
    ExporterRejected,
}
