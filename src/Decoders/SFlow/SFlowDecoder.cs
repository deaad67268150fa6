using System.Buffers.Binary;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Decoders.SFlow;

/// <summary>
/// sFlow version 5 (sflow.org, sflow_version_5.txt): datagram header with IPv4 or IPv6 agent address, flow samples
/// and counter samples in compact and expanded form. Flow records: raw packet header (through
/// <see cref="PacketHeaderParser"/>), sampled Ethernet, IPv4 and IPv6, extended switch; counter records: generic
/// interface and Ethernet. Unknown samples and records are skipped by their length. XDR throughout: big-endian
/// 4-byte words, opaque data padded to 4 bytes.
/// </summary>
internal static class SFlowDecoder
{
    public const uint Version = 5;

    /// <summary>The key sFlow datagram sequences are tracked under (its own numbering beside NetFlow 5/9, IPFIX 10).</summary>
    private const byte SequenceVersion = (byte)ExportFormat.SFlow;

    private const uint AddressIPv4 = 1;
    private const uint AddressIPv6 = 2;
    private const int SampleHeaderLength = 8;
    private const int RecordHeaderLength = 8;
    private const int CompactFlowSampleLength = 32;
    private const int ExpandedFlowSampleLength = 44;
    private const int CompactCounterSampleLength = 12;
    private const int ExpandedCounterSampleLength = 16;
    private const int GenericCountersLength = 88;
    private const int EthernetCountersLength = 52;

    // Sample formats (enterprise 0).
    private const uint FlowSample = 1;
    private const uint CounterSample = 2;
    private const uint ExpandedFlowSample = 3;
    private const uint ExpandedCounterSample = 4;

    // Flow record formats.
    private const uint RawPacketHeader = 1;
    private const uint SampledEthernet = 2;
    private const uint SampledIPv4 = 3;
    private const uint SampledIPv6 = 4;
    private const uint ExtendedSwitch = 1001;

    // Counter record formats.
    private const uint GenericInterfaceCounters = 1;
    private const uint EthernetInterfaceCounters = 2;

    // Raw packet header protocols.
    private const uint HeaderEthernet = 1;
    private const uint HeaderIPv4 = 11;
    private const uint HeaderIPv6 = 12;

    /// <summary>Interface words: the top two bits say what the other 30 are.</summary>
    private const uint InterfaceFormatShift = 30;
    private const uint InterfaceValueMask = 0x3FFF_FFFF;

    public static DecodeStatus Decode<TSink>(ReadOnlySpan<byte> datagram, ExporterState state, long receivedMilliseconds, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        if (datagram.Length < 28)
        {
            return DecodeStatus.Truncated;
        }

        var addressType = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        var offset = addressType switch
        {
            AddressIPv4 => 12,
            AddressIPv6 => 24,
            _ => -1,
        };
        if (offset < 0)
        {
            return DecodeStatus.BadLength;
        }

        if (datagram.Length < offset + 16)
        {
            return DecodeStatus.Truncated;
        }

        var subAgent = BinaryPrimitives.ReadUInt32BigEndian(datagram[offset..]);
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(datagram[(offset + 4)..]);
        var uptime = BinaryPrimitives.ReadUInt32BigEndian(datagram[(offset + 8)..]);
        var samples = BinaryPrimitives.ReadUInt32BigEndian(datagram[(offset + 12)..]);
        offset += 16;

        var status = DecodeStatus.Ok;
        var context = new SampleContext(state, subAgent, receivedMilliseconds);
        for (var i = 0u; i < samples; i++)
        {
            if (datagram.Length - offset < SampleHeaderLength)
            {
                status = DecodeStatus.Truncated;
                break;
            }

            var format = BinaryPrimitives.ReadUInt32BigEndian(datagram[offset..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(datagram[(offset + 4)..]);
            if (length > (uint)(datagram.Length - offset - SampleHeaderLength))
            {
                status = DecodeStatus.BadLength;
                break;
            }

            var body = datagram.Slice(offset + SampleHeaderLength, (int)length);
            var sampleStatus = (format >> 12) != 0 ? DecodeStatus.Ok : (format & 0xFFF) switch
            {
                FlowSample => DecodeFlowSample(body, expanded: false, context, ref sink),
                ExpandedFlowSample => DecodeFlowSample(body, expanded: true, context, ref sink),
                CounterSample => DecodeCounterSample(body, expanded: false, context, ref sink),
                ExpandedCounterSample => DecodeCounterSample(body, expanded: true, context, ref sink),
                _ => DecodeStatus.Ok,
            };
            if (sampleStatus != DecodeStatus.Ok && status == DecodeStatus.Ok)
            {
                status = sampleStatus;
            }

            offset += SampleHeaderLength + (int)length;
        }

        state.Sequences.Observe(state.Statistics, SequenceVersion, subAgent, sequence, 1, uptime);
        return status;
    }

    private static DecodeStatus DecodeFlowSample<TSink>(ReadOnlySpan<byte> sample, bool expanded, in SampleContext context, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        if (sample.Length < (expanded ? ExpandedFlowSampleLength : CompactFlowSampleLength))
        {
            return DecodeStatus.BadRecord;
        }

        var sequence = Word(sample, 0);
        uint sourceIndex, rate, pool, drops, inputFormat, input, outputFormat, output;
        int records, offset;
        if (expanded)
        {
            sourceIndex = Word(sample, 8);
            rate = Word(sample, 12);
            pool = Word(sample, 16);
            drops = Word(sample, 20);
            inputFormat = Word(sample, 24);
            input = Word(sample, 28);
            outputFormat = Word(sample, 32);
            output = Word(sample, 36);
            records = (int)Math.Min(Word(sample, 40), int.MaxValue);
            offset = ExpandedFlowSampleLength;
        }
        else
        {
            sourceIndex = Word(sample, 4) & 0x00FF_FFFF;
            rate = Word(sample, 8);
            pool = Word(sample, 12);
            drops = Word(sample, 16);
            // Compact form: the top two bits of each word are the format, the other 30 the value.
            inputFormat = Word(sample, 20) >> (int)InterfaceFormatShift;
            input = Word(sample, 20) & InterfaceValueMask;
            outputFormat = Word(sample, 24) >> (int)InterfaceFormatShift;
            output = Word(sample, 24) & InterfaceValueMask;
            records = (int)Math.Min(Word(sample, 28), int.MaxValue);
            offset = CompactFlowSampleLength;
        }

        var state = context.State;
        var effectiveRate = state.SFlowSources.EffectiveRate(state.Statistics, context.SubAgent, sourceIndex, sequence, rate == 0 ? 1 : rate, pool, drops);
        var flow = new FlowRecord
        {
            Format = ExportFormat.SFlow,
            Exporter = state.Address,
            ObservationDomain = context.SubAgent,
            Packets = 1,
            SamplingRate = effectiveRate,
            StartMilliseconds = context.ReceivedMilliseconds,
            EndMilliseconds = context.ReceivedMilliseconds,
        };
        // Interface format 0 is an ifIndex (0x3FFFFFFF: internal), 1 a discard reason, 2 a count of interfaces.
        flow.InputInterface = inputFormat == 0 ? input : 0;
        switch (outputFormat)
        {
            case 0:
                flow.OutputInterface = output;
                break;
            case 1:
                flow.Attributes |= FlowAttributes.Discarded;
                break;
            default:
                flow.Attributes |= FlowAttributes.MultipleOutputs;
                break;
        }

        if (sourceIndex != 0 && sourceIndex == flow.InputInterface)
        {
            flow.Direction = FlowDirection.Ingress;
        }
        else if (sourceIndex != 0 && sourceIndex == flow.OutputInterface)
        {
            flow.Direction = FlowDirection.Egress;
        }

        var described = false;
        var status = DecodeStatus.Ok;
        ReadOnlySpan<byte> header = default;
        var headerLinkType = LinkType.Null;
        for (var i = 0; i < records; i++)
        {
            if (sample.Length - offset < RecordHeaderLength)
            {
                status = DecodeStatus.BadRecord;
                break;
            }

            var format = Word(sample, offset);
            var length = Word(sample, offset + 4);
            if (length > (uint)(sample.Length - offset - RecordHeaderLength))
            {
                status = DecodeStatus.BadRecord;
                break;
            }

            var record = sample.Slice(offset + RecordHeaderLength, (int)length);
            if ((format >> 12) == 0)
            {
                switch (format & 0xFFF)
                {
                    case RawPacketHeader:
                        described |= ReadRawHeader(record, ref flow, out header, out headerLinkType);
                        break;
                    case SampledIPv4 when !described && record.Length >= 32:
                        ReadSampledIp(record, 4, ref flow);
                        described = true;
                        break;
                    case SampledIPv6 when !described && record.Length >= 56:
                        ReadSampledIp(record, 16, ref flow);
                        described = true;
                        break;
                    case SampledEthernet when !described && record.Length >= 4:
                        flow.FrameLength = Word(record, 0);
                        flow.Bytes = PacketFlows.WithoutFcs(flow.FrameLength);
                        described = true;
                        break;
                    case ExtendedSwitch when record.Length >= 4 && flow.Vlan == 0:
                        flow.Vlan = (ushort)(Word(record, 0) & 0x0FFF);
                        break;
                    default:
                        break;
                }
            }

            offset += RecordHeaderLength + Align4(length);
        }

        if (described)
        {
            context.Sink(ref sink, flow);
            if (!header.IsEmpty && headerLinkType != (LinkType)ushort.MaxValue)
            {
                sink.OnSampledHeader(header, headerLinkType, flow.FrameLength, context.ReceivedMilliseconds);
            }
        }

        return status;
    }

    /// <summary>Raw packet header: protocol, frame length (with FCS), bytes stripped, header length, header.</summary>
    private static bool ReadRawHeader(ReadOnlySpan<byte> record, scoped ref FlowRecord flow, out ReadOnlySpan<byte> header, out LinkType linkType)
    {
        header = default;
        linkType = LinkType.Null;
        if (record.Length < 16)
        {
            return false;
        }

        var protocol = Word(record, 0);
        var frameLength = Word(record, 4);
        var headerLength = Word(record, 12);
        header = record[16..];
        if (headerLength < header.Length)
        {
            header = header[..(int)headerLength];
        }

        linkType = protocol switch
        {
            HeaderEthernet => LinkType.Ethernet,
            HeaderIPv4 => LinkType.IPv4,
            HeaderIPv6 => LinkType.IPv6,
            _ => (LinkType)ushort.MaxValue,
        };
        flow.FrameLength = frameLength;
        PacketHeaderParser.Parse(header, linkType, out var packet);
        PacketFlows.Apply(packet, ref flow);
        if (packet.IpVersion == 0 || packet.IpLength == 0)
        {
            flow.Bytes = protocol == HeaderEthernet ? PacketFlows.WithoutFcs(frameLength) : frameLength;
        }

        return true;
    }

    /// <summary>Sampled IPv4 (32 bytes) or IPv6 (56 bytes): length, protocol, addresses, ports, TCP flags.</summary>
    private static void ReadSampledIp(ReadOnlySpan<byte> record, int addressLength, ref FlowRecord flow)
    {
        flow.Bytes = Word(record, 0);
        flow.IpProtocol = (byte)Word(record, 4);
        flow.IpVersion = addressLength == 4 ? (byte)4 : (byte)6;
        flow.SourceAddress = addressLength == 4 ? NetworkAddress.FromIPv4(record[8..]) : NetworkAddress.FromIPv6(record[8..]);
        flow.DestinationAddress = addressLength == 4 ? NetworkAddress.FromIPv4(record[(8 + addressLength)..]) : NetworkAddress.FromIPv6(record[(8 + addressLength)..]);
        var ports = 8 + (2 * addressLength);
        flow.SourcePort = (ushort)Word(record, ports);
        flow.DestinationPort = (ushort)Word(record, ports + 4);
        flow.TcpFlags = (ushort)(Word(record, ports + 8) & 0xFF);
    }

    private static DecodeStatus DecodeCounterSample<TSink>(ReadOnlySpan<byte> sample, bool expanded, in SampleContext context, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        var headerLength = expanded ? ExpandedCounterSampleLength : CompactCounterSampleLength;
        if (sample.Length < headerLength)
        {
            return DecodeStatus.BadRecord;
        }

        var records = (int)Math.Min(Word(sample, headerLength - 4), int.MaxValue);
        var counters = new InterfaceCounters
        {
            Source = CounterSource.SFlow,
            Exporter = context.State.Address,
            SubAgent = context.SubAgent,
            TimestampMilliseconds = context.ReceivedMilliseconds,
        };
        var hasGeneric = false;
        var status = DecodeStatus.Ok;
        var offset = headerLength;
        for (var i = 0; i < records; i++)
        {
            if (sample.Length - offset < RecordHeaderLength)
            {
                status = DecodeStatus.BadRecord;
                break;
            }

            var format = Word(sample, offset);
            var length = Word(sample, offset + 4);
            if (length > (uint)(sample.Length - offset - RecordHeaderLength))
            {
                status = DecodeStatus.BadRecord;
                break;
            }

            var record = sample.Slice(offset + RecordHeaderLength, (int)length);
            if (format == GenericInterfaceCounters && record.Length >= GenericCountersLength)
            {
                ReadGeneric(record, ref counters);
                hasGeneric = true;
            }
            else if (format == EthernetInterfaceCounters && record.Length >= EthernetCountersLength)
            {
                var fcs = Word(record, 4);
                if (fcs != uint.MaxValue)
                {
                    counters.FcsErrors = fcs;
                    counters.Known |= KnownCounters.FcsErrors;
                }
            }

            offset += RecordHeaderLength + Align4(length);
        }

        if (hasGeneric)
        {
            context.State.Statistics.CounterRecords++;
            sink.OnCounters(in counters);
        }

        return status;
    }

    /// <summary>Generic interface counters (format 1, 88 bytes); all ones marks a counter the agent does not keep.</summary>
    private static void ReadGeneric(ReadOnlySpan<byte> record, ref InterfaceCounters counters)
    {
        counters.IfIndex = Word(record, 0);
        var speed = BinaryPrimitives.ReadUInt64BigEndian(record[8..]);
        counters.Direction = Word(record, 16) switch
        {
            1 => InterfaceDirection.FullDuplex,
            2 => InterfaceDirection.HalfDuplex,
            3 => InterfaceDirection.In,
            4 => InterfaceDirection.Out,
            _ => InterfaceDirection.Unknown,
        };
        counters.IsUp = (Word(record, 20) & 0x2) != 0;
        var known = KnownCounters.None;
        if (speed != ulong.MaxValue)
        {
            counters.IfSpeed = speed;
            known |= KnownCounters.Speed;
        }

        counters.InOctets = Counter64(record, 24, KnownCounters.InOctets, ref known);
        counters.InUnicastPackets = Counter32(record, 32, KnownCounters.InUnicast, ref known);
        counters.InMulticastPackets = Counter32(record, 36, KnownCounters.InMulticast, ref known);
        counters.InBroadcastPackets = Counter32(record, 40, KnownCounters.InBroadcast, ref known);
        counters.InDiscards = Counter32(record, 44, KnownCounters.InDiscards, ref known);
        counters.InErrors = Counter32(record, 48, KnownCounters.InErrors, ref known);
        counters.OutOctets = Counter64(record, 56, KnownCounters.OutOctets, ref known);
        counters.OutUnicastPackets = Counter32(record, 64, KnownCounters.OutUnicast, ref known);
        counters.OutMulticastPackets = Counter32(record, 68, KnownCounters.OutMulticast, ref known);
        counters.OutBroadcastPackets = Counter32(record, 72, KnownCounters.OutBroadcast, ref known);
        counters.OutDiscards = Counter32(record, 76, KnownCounters.OutDiscards, ref known);
        counters.OutErrors = Counter32(record, 80, KnownCounters.OutErrors, ref known);
        counters.Known |= known;
    }

    private static ulong Counter32(ReadOnlySpan<byte> record, int offset, KnownCounters field, ref KnownCounters known)
    {
        var value = Word(record, offset);
        if (value == uint.MaxValue)
        {
            return 0;
        }

        known |= field;
        return value;
    }

    private static ulong Counter64(ReadOnlySpan<byte> record, int offset, KnownCounters field, ref KnownCounters known)
    {
        var value = BinaryPrimitives.ReadUInt64BigEndian(record[offset..]);
        if (value == ulong.MaxValue)
        {
            return 0;
        }

        known |= field;
        return value;
    }

    private static uint Word(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);

    private static int Align4(uint length) => (int)Math.Min((length + 3) & ~3u, int.MaxValue);

    /// <summary>What every sample of one datagram shares.</summary>
    private readonly struct SampleContext(ExporterState state, uint subAgent, long receivedMilliseconds)
    {
        public ExporterState State { get; } = state;

        public uint SubAgent { get; } = subAgent;

        public long ReceivedMilliseconds { get; } = receivedMilliseconds;

        public void Sink<TSink>(ref TSink sink, in FlowRecord flow)
            where TSink : struct, IFlowSink
        {
            State.Statistics.Records++;
            sink.OnFlow(in flow);
        }
    }
}
