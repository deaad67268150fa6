using FlowCollector.Collector.Capture;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Decode;

/// <summary>What decoding a set of capture files found.</summary>
internal sealed class CaptureDecodeSummary
{
    private readonly long[] _byStatus = new long[Enum.GetValues<DecodeStatus>().Length];

    public long Frames { get; set; }

    public long FlowDatagrams { get; set; }

    public long Records { get; set; }

    public long Counters { get; set; }

    /// <summary>UDP datagrams on the chosen ports whose payload is no flow export.</summary>
    public long OtherUdp { get; set; }

    /// <summary>Frames that carry no UDP datagram (TCP, ARP, ...), or UDP on other ports.</summary>
    public long NotSelected { get; set; }

    /// <summary>Mirrored frames without an IP packet (ARP, STP, LLDP, ...).</summary>
    public long NotIp { get; set; }

    /// <summary>IP fragments: a fragmented export cannot be decoded from one frame.</summary>
    public long Fragments { get; set; }

    /// <summary>UDP datagrams cut short by the capture's snap length.</summary>
    public long TruncatedDatagrams { get; set; }

    public long CountOf(DecodeStatus status) => _byStatus[(int)status];

    public void Add(DecodeStatus status) => _byStatus[(int)status]++;
}

/// <summary>How the frames of a capture are read.</summary>
internal enum CaptureContent
{
    /// <summary>Flow exports (NetFlow, IPFIX, sFlow) in UDP datagrams.</summary>
    FlowExports,

    /// <summary>Mirrored traffic (SPAN, ERSPAN, GRE, TZSP, VXLAN): each frame is one packet.</summary>
    MirroredFrames,
}

/// <summary>
/// Finds the flow export datagrams in capture files (UDP on any port, or on the chosen ones) and decodes them in
/// capture order with one decoder, so templates from an earlier file serve the data of a later one; or, for
/// mirrored traffic, turns every frame into a one-packet record.
/// </summary>
internal sealed class CaptureDecoder(FlowDecoderOptions options, IReadOnlySet<int> ports, CaptureContent content = CaptureContent.FlowExports)
{
    private readonly FlowDecoder _decoder = new(options);

    public CaptureDecodeSummary Summary { get; } = new();

    public FlowDecoder Decoder => _decoder;

    /// <summary>Decodes every file in order, handing each record (and counter snapshot) with its capture time to the callbacks.</summary>
    public bool TryDecode(IEnumerable<string> paths, Action<FlowRecord, DateTimeOffset> onFlow, Action<InterfaceCounters, DateTimeOffset>? onCounters, out string error)
    {
        foreach (var path in paths)
        {
            if (!CaptureFile.TryOpen(path, out var capture, out error))
            {
                return false;
            }

            using (capture)
            {
                var sink = new CallbackSink(onFlow, onCounters);
                if (content == CaptureContent.MirroredFrames)
                {
                    DecodeMirrored(capture!, ref sink);
                }
                else
                {
                    DecodeExports(capture!, ref sink);
                }

                Summary.Records += sink.Records;
                Summary.Counters += sink.CounterSnapshots;
            }
        }

        error = string.Empty;
        return true;
    }

    private void DecodeMirrored(CaptureFile capture, ref CallbackSink sink)
    {
        while (capture.TryReadNext(out var frame, out var timestamp, out var wireLength))
        {
            Summary.Frames++;
            if (!PacketFlows.TryDecodeMirrored(frame, capture.LinkType, wireLength, timestamp.ToUnixTimeMilliseconds(), out var flow))
            {
                Summary.NotIp++;
                continue;
            }

            sink.Captured = timestamp;
            sink.OnFlow(flow);
        }
    }

    private void DecodeExports(CaptureFile capture, ref CallbackSink sink)
    {
        while (capture.TryReadNext(out var frame, out var timestamp, out _))
        {
            Summary.Frames++;
            PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
            if (header.IsFragment && header.Protocol == PacketHeaderParser.ProtocolUdp)
            {
                Summary.Fragments++;
                continue;
            }

            if (header.Protocol != PacketHeaderParser.ProtocolUdp || !header.HasTransport
                || (ports.Count > 0 && !ports.Contains(header.DestinationPort)))
            {
                Summary.NotSelected++;
                continue;
            }

            var payload = frame.Slice(header.PayloadOffset, header.PayloadLength);
            if (!FlowDecoder.LooksLikeFlowExport(payload))
            {
                Summary.OtherUdp++;
                continue;
            }

            if (header.PayloadTruncated)
            {
                Summary.TruncatedDatagrams++;
            }

            sink.Captured = timestamp;
            var status = _decoder.Decode(payload, header.SourceAddress, timestamp.ToUnixTimeMilliseconds(), ref sink);
            Summary.FlowDatagrams++;
            Summary.Add(status);
        }
    }

    private struct CallbackSink(Action<FlowRecord, DateTimeOffset> onFlow, Action<InterfaceCounters, DateTimeOffset>? onCounters) : IFlowSink
    {
        public DateTimeOffset Captured { get; set; }

        public long Records { get; private set; }

        public long CounterSnapshots { get; private set; }

        public void OnFlow(in FlowRecord flow)
        {
            Records++;
            onFlow(flow, Captured);
        }

        public void OnCounters(in InterfaceCounters counters)
        {
            CounterSnapshots++;
            onCounters?.Invoke(counters, Captured);
        }

        public readonly void OnSampledHeader(ReadOnlySpan<byte> header, Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
