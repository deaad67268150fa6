using System.Buffers.Binary;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Decoders.Ipfix;
using FlowCollector.Decoders.NetFlow;
using FlowCollector.Decoders.SFlow;

namespace FlowCollector.Decoders.Flows;

/// <summary>
/// Decodes NetFlow v5, NetFlow v9, IPFIX and sFlow v5 datagrams, telling them apart by their version field
/// (sFlow's is 32 bits), with one template cache per exporter. Several receive threads may share a decoder: an
/// exporter's state is locked while one of its datagrams is decoded (its datagrams normally reach one socket, so
/// the lock is uncontended).
/// </summary>
public sealed class FlowDecoder
{
    private const int VersionLength = 2;

    private readonly int _maxFieldsPerTemplate;

    public FlowDecoder(FlowDecoderOptions? options = null)
    {
        options ??= new FlowDecoderOptions();
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        Exporters = new ExporterTable(options);
        _maxFieldsPerTemplate = options.MaxFieldsPerTemplate;
    }

    public ExporterTable Exporters { get; }

    /// <summary>True when the datagram starts like a version this decoder reads (NetFlow 5 or 9, IPFIX, sFlow 5).</summary>
    public static bool LooksLikeFlowExport(ReadOnlySpan<byte> datagram) => FormatOf(datagram) != ExportFormat.Unknown;

    /// <summary>The export format the datagram's version field names.</summary>
    public static ExportFormat FormatOf(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < VersionLength)
        {
            return ExportFormat.Unknown;
        }

        return BinaryPrimitives.ReadUInt16BigEndian(datagram) switch
        {
            NetFlowV5Decoder.Version => ExportFormat.NetFlowV5,
            NetFlowV9Decoder.Version => ExportFormat.NetFlowV9,
            IpfixDecoder.Version => ExportFormat.Ipfix,
            0 when datagram.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(datagram) == SFlowDecoder.Version => ExportFormat.SFlow,
            _ => ExportFormat.Unknown,
        };
    }

    /// <summary>
    /// Decodes one datagram from <paramref name="exporter"/>, received at <paramref name="receivedMilliseconds"/>
    /// (Unix time; drives template expiry and the hold time of early data). Never throws on malformed input.
    /// </summary>
    public DecodeStatus Decode<TSink>(ReadOnlySpan<byte> datagram, NetworkAddress exporter, long receivedMilliseconds, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        var format = FormatOf(datagram);
        if (format == ExportFormat.Unknown)
        {
            var status = datagram.Length < VersionLength ? DecodeStatus.Truncated : DecodeStatus.BadVersion;
            (Exporters.Find(exporter)?.Statistics ?? Exporters.Unattributed).Count(status);
            return status;
        }

        var state = Exporters.GetOrAdd(exporter, receivedMilliseconds);
        if (state is null)
        {
            Exporters.Unattributed.Count(DecodeStatus.ExporterRejected);
            return DecodeStatus.ExporterRejected;
        }

        lock (state)
        {
            if (state.IsReleased)
            {
                Exporters.Unattributed.Count(DecodeStatus.ExporterRejected);
                return DecodeStatus.ExporterRejected;
            }

            state.LastSeenMilliseconds = receivedMilliseconds;
            var result = format switch
            {
                ExportFormat.NetFlowV5 => NetFlowV5Decoder.Decode(datagram, state, ref sink),
                ExportFormat.NetFlowV9 => NetFlowV9Decoder.Decode(datagram, state, receivedMilliseconds, ref sink, _maxFieldsPerTemplate),
                ExportFormat.Ipfix => IpfixDecoder.Decode(datagram, state, receivedMilliseconds, ref sink, _maxFieldsPerTemplate),
                _ => SFlowDecoder.Decode(datagram, state, receivedMilliseconds, ref sink),
            };
            state.Statistics.Count(result);
            return result;
        }
    }
}
