using System.Buffers.Binary;
using FlowCollector.Decoders.Exporters;

namespace FlowCollector.Decoders.NetFlow;

/// <summary>
/// NetFlow version 5 (Cisco "NetFlow Export Datagram Format"): a 24-byte header and at most 30 fixed 48-byte
/// records. The length must be exactly 24 + 48·count; record times are sysUptime-relative milliseconds.
/// </summary>
internal static class NetFlowV5Decoder
{
    public const ushort Version = 5;
    public const int HeaderLength = 24;
    public const int RecordLength = 48;
    public const int MaxRecords = 30;

    private const int CountOffset = 2;
    private const int SysUptimeOffset = 4;
    private const int UnixSecondsOffset = 8;
    private const int UnixNanosecondsOffset = 12;
    private const int SequenceOffset = 16;
    private const int EngineTypeOffset = 20;
    private const int EngineIdOffset = 21;
    private const int SamplingOffset = 22;

    // Record layout.
    private const int SourceAddressOffset = 0;
    private const int DestinationAddressOffset = 4;
    private const int InputOffset = 12;
    private const int OutputOffset = 14;
    private const int PacketsOffset = 16;
    private const int OctetsOffset = 20;
    private const int FirstOffset = 24;
    private const int LastOffset = 28;
    private const int SourcePortOffset = 32;
    private const int DestinationPortOffset = 34;
    private const int TcpFlagsOffset = 37;
    private const int ProtocolOffset = 38;

    /// <summary>The sampling field: 2 bits of mode, 14 bits of interval (0x4064 is mode 1, 1 in 100).</summary>
    private const ushort SamplingIntervalMask = 0x3FFF;

    public static DecodeStatus Decode<TSink>(ReadOnlySpan<byte> datagram, ExporterState state, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        if (datagram.Length < HeaderLength)
        {
            return DecodeStatus.Truncated;
        }

        int count = BinaryPrimitives.ReadUInt16BigEndian(datagram[CountOffset..]);
        if (count > MaxRecords)
        {
            return DecodeStatus.BadCount;
        }

        if (datagram.Length != HeaderLength + (count * RecordLength))
        {
            return datagram.Length < HeaderLength + (count * RecordLength) ? DecodeStatus.Truncated : DecodeStatus.BadLength;
        }

        var uptime = BinaryPrimitives.ReadUInt32BigEndian(datagram[SysUptimeOffset..]);
        var exportMilliseconds = (BinaryPrimitives.ReadUInt32BigEndian(datagram[UnixSecondsOffset..]) * 1000L)
            + (BinaryPrimitives.ReadUInt32BigEndian(datagram[UnixNanosecondsOffset..]) / 1_000_000);
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(datagram[SequenceOffset..]);
        var domain = (uint)((datagram[EngineTypeOffset] << 8) | datagram[EngineIdOffset]);
        uint samplingRate = (uint)(BinaryPrimitives.ReadUInt16BigEndian(datagram[SamplingOffset..]) & SamplingIntervalMask);
        if (samplingRate == 0)
        {
            samplingRate = 1;
        }

        var flow = new FlowRecord
        {
            Format = ExportFormat.NetFlowV5,
            Exporter = state.Address,
            ObservationDomain = domain,
            IpVersion = 4,
            SamplingRate = samplingRate,
        };

        for (var i = 0; i < count; i++)
        {
            var record = datagram.Slice(HeaderLength + (i * RecordLength), RecordLength);
            flow.SourceAddress = NetworkAddress.FromIPv4(record[SourceAddressOffset..]);
            flow.DestinationAddress = NetworkAddress.FromIPv4(record[DestinationAddressOffset..]);
            flow.InputInterface = BinaryPrimitives.ReadUInt16BigEndian(record[InputOffset..]);
            flow.OutputInterface = BinaryPrimitives.ReadUInt16BigEndian(record[OutputOffset..]);
            flow.Packets = BinaryPrimitives.ReadUInt32BigEndian(record[PacketsOffset..]);
            flow.Bytes = BinaryPrimitives.ReadUInt32BigEndian(record[OctetsOffset..]);

            // Signed 32-bit differences stay right when sysUptime wraps after 2^32 ms.
            flow.StartMilliseconds = exportMilliseconds - (int)(uptime - BinaryPrimitives.ReadUInt32BigEndian(record[FirstOffset..]));
            flow.EndMilliseconds = exportMilliseconds - (int)(uptime - BinaryPrimitives.ReadUInt32BigEndian(record[LastOffset..]));
            flow.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(record[SourcePortOffset..]);
            flow.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(record[DestinationPortOffset..]);
            flow.TcpFlags = record[TcpFlagsOffset];
            flow.IpProtocol = record[ProtocolOffset];
            if (flow.IpProtocol == 1)
            {
                // ICMP type and code travel in the destination port.
                flow.IcmpType = (byte)(flow.DestinationPort >> 8);
                flow.IcmpCode = (byte)flow.DestinationPort;
                flow.Attributes = FlowAttributes.HasIcmp;
            }
            else
            {
                flow.IcmpType = 0;
                flow.IcmpCode = 0;
                flow.Attributes = FlowAttributes.None;
            }

            sink.OnFlow(in flow);
        }

        state.Statistics.Records += count;

        // The v5 sequence counts flows, so it advances by the records of this datagram.
        state.Sequences.Observe(state.Statistics, (byte)Version, domain, sequence, (uint)count, uptime);
        return DecodeStatus.Ok;
    }
}
