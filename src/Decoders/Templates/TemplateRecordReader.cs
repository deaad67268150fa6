using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowCollector.Decoders.Exporters;

namespace FlowCollector.Decoders.Templates;

/// <summary>
/// Reads data records with a compiled template and turns their raw values into <see cref="FlowRecord"/>s:
/// counters (delta, total, initiator), absolute times from every IPFIX and NetFlow v9 encoding, ICMP type and
/// code, and the sampling rate (inline, or announced in options data).
/// </summary>
internal static class TemplateRecordReader
{
    /// <summary>Seconds between the NTP era (1900) and the Unix epoch.</summary>
    private const long NtpToUnixSeconds = 2_208_988_800;

    /// <summary>IPFIX fragmentFlags (RFC 7012): the More Fragments bit.</summary>
    private const byte MoreFragmentsFlag = 0x20;

    private const byte IcmpProtocol = 1;
    private const byte Icmpv6Protocol = 58;

    /// <summary>
    /// Reads the record at <paramref name="offset"/>. Returns false, leaving the offset, when a field runs past
    /// the end of the set.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> set, ref int offset, Template template, ref RecordValues values)
    {
        if (template.Layout is { } layout)
        {
            var length = template.FixedLength;
            if (set.Length - offset < length)
            {
                return false;
            }

            ReadFixed(set.Slice(offset, length), layout, ref values);
            offset += length;
            return true;
        }

        var fields = template.Fields;
        var position = offset;
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            int length = field.Length;
            if (field.IsVariable)
            {
                // RFC 7011 §7: one length byte, or 255 followed by a 2-byte length.
                if (position >= set.Length)
                {
                    return false;
                }

                length = set[position++];
                if (length == 255)
                {
                    if (set.Length - position < 2)
                    {
                        return false;
                    }

                    length = BinaryPrimitives.ReadUInt16BigEndian(set[position..]);
                    position += 2;
                }
            }

            if (length > set.Length - position)
            {
                return false;
            }

            if (field.Action != FieldAction.Skip)
            {
                Apply(field.Action, set.Slice(position, length), ref values);
            }

            position += length;
        }

        offset = position;
        return true;
    }

    /// <summary>
    /// Reads a record of a fixed-length template: the common fields in straight lines at their offsets, then the
    /// template's others. Every offset lies inside the record (the layout was made from the template that gave
    /// its length), so no field is bounds-checked again.
    /// </summary>
    private static void ReadFixed(ReadOnlySpan<byte> record, FixedLayout layout, ref RecordValues values)
    {
        ref var start = ref MemoryMarshal.GetReference(record);
        ref var flow = ref values.Flow;
        var present = values.Present;
        if (layout.SourceIPv4 >= 0)
        {
            values.SourceIPv4 = NetworkAddress.FromIPv4(ReadUInt32(ref start, layout.SourceIPv4));
            present |= RecordFields.SourceIPv4;
        }

        if (layout.DestinationIPv4 >= 0)
        {
            values.DestinationIPv4 = NetworkAddress.FromIPv4(ReadUInt32(ref start, layout.DestinationIPv4));
            present |= RecordFields.DestinationIPv4;
        }

        if (layout.SourceIPv6 >= 0)
        {
            values.SourceIPv6 = NetworkAddress.FromIPv6(ReadUInt64(ref start, layout.SourceIPv6), ReadUInt64(ref start, layout.SourceIPv6 + 8));
            present |= RecordFields.SourceIPv6;
        }

        if (layout.DestinationIPv6 >= 0)
        {
            values.DestinationIPv6 = NetworkAddress.FromIPv6(ReadUInt64(ref start, layout.DestinationIPv6), ReadUInt64(ref start, layout.DestinationIPv6 + 8));
            present |= RecordFields.DestinationIPv6;
        }

        if (layout.SourcePort >= 0)
        {
            flow.SourcePort = ReadUInt16(ref start, layout.SourcePort);
        }

        if (layout.DestinationPort >= 0)
        {
            flow.DestinationPort = ReadUInt16(ref start, layout.DestinationPort);
        }

        if (layout.IpProtocol >= 0)
        {
            flow.IpProtocol = Unsafe.Add(ref start, layout.IpProtocol);
        }

        if (layout.FirstUptime >= 0)
        {
            values.FirstUptime = ReadUInt32(ref start, layout.FirstUptime);
            present |= RecordFields.FirstUptime;
        }

        if (layout.LastUptime >= 0)
        {
            values.LastUptime = ReadUInt32(ref start, layout.LastUptime);
            present |= RecordFields.LastUptime;
        }

        if (layout.TcpFlags >= 0)
        {
            flow.TcpFlags = (ushort)ReadUnsigned(ref start, layout.TcpFlags, layout.TcpFlagsLength);
        }

        if (layout.OctetDelta >= 0)
        {
            values.OctetDelta = ReadUnsigned(ref start, layout.OctetDelta, layout.OctetDeltaLength);
            present |= RecordFields.OctetDelta;
        }

        if (layout.PacketDelta >= 0)
        {
            values.PacketDelta = ReadUnsigned(ref start, layout.PacketDelta, layout.PacketDeltaLength);
            present |= RecordFields.PacketDelta;
        }

        if (layout.InputInterface >= 0)
        {
            flow.InputInterface = (uint)ReadUnsigned(ref start, layout.InputInterface, layout.InputInterfaceLength);
            present |= RecordFields.InputInterface;
        }

        if (layout.OutputInterface >= 0)
        {
            flow.OutputInterface = (uint)ReadUnsigned(ref start, layout.OutputInterface, layout.OutputInterfaceLength);
            present |= RecordFields.OutputInterface;
        }

        if (layout.Direction >= 0)
        {
            flow.Direction = DirectionOf(Unsafe.Add(ref start, layout.Direction));
        }

        if (layout.SamplerId >= 0)
        {
            flow.SamplerId = (uint)Math.Min(ReadUnsigned(ref start, layout.SamplerId, layout.SamplerIdLength), uint.MaxValue);
            present |= RecordFields.SamplerId;
        }

        values.Present = present;
        foreach (var step in layout.Rest)
        {
            Apply(step.Action, record.Slice(step.Offset, step.Length), ref values);
        }
    }

    /// <summary>flowDirection (61): 0 ingress, 1 egress.</summary>
    private static FlowDirection DirectionOf(byte value) => value switch
    {
        0 => FlowDirection.Ingress,
        1 => FlowDirection.Egress,
        _ => FlowDirection.Unknown,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ReadUInt16(ref byte start, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadUInt32(ref byte start, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUInt64(ref byte start, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUnsigned(ref byte start, int offset, int length) => length switch
    {
        1 => Unsafe.Add(ref start, offset),
        2 => ReadUInt16(ref start, offset),
        4 => ReadUInt32(ref start, offset),
        8 => ReadUInt64(ref start, offset),
        _ => ReadUnsignedReduced(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, offset), length)),
    };

    /// <summary>Resolves a data record and delivers it (and its reverse half, for a biflow) to the sink.</summary>
    public static int Deliver<TSink>(ref RecordValues values, in DataSetContext context, ExporterState state, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        ref var flow = ref values.Flow;
        flow.Format = context.Format;
        flow.Exporter = context.Exporter;
        flow.ObservationDomain = context.Domain;
        ResolveAddresses(ref values);
        ResolveCounters(ref values);

        if (!values.Has(RecordFields.InputInterface))
        {
            flow.InputInterface = values.PhysicalInput;
        }

        if (!values.Has(RecordFields.OutputInterface))
        {
            flow.OutputInterface = values.PhysicalOutput;
        }

        if (flow.IpProtocol is IcmpProtocol or Icmpv6Protocol)
        {
            if (!values.Has(RecordFields.Icmp))
            {
                // Cisco exports ICMP type and code in the destination port (type << 8 | code).
                flow.IcmpType = (byte)(flow.DestinationPort >> 8);
                flow.IcmpCode = (byte)flow.DestinationPort;
            }

            flow.Attributes |= FlowAttributes.HasIcmp;
        }

        if (values.Has(RecordFields.Fragment))
        {
            flow.Attributes |= FlowAttributes.Fragment;
        }

        ResolveTimes(ref values, context, state);
        var rate = values.InlineSamplingRate();
        if (rate == 0)
        {
            rate = state.Sampling.Find(context.Domain, values.Sampler);
        }

        if (rate == 0 && values.Has(RecordFields.SamplerId | RecordFields.SelectorId))
        {
            rate = state.Sampling.Find(context.Domain, values.SelectorId);
        }

        flow.SamplerId = values.Sampler;

        flow.SamplingRate = rate == 0 ? 1 : rate;

        var delivered = 0;
        var isBiflow = values.Has(RecordFields.Reverse);
        var hasCounters = flow.Bytes != 0 || flow.Packets != 0;

        // The forward half of a biflow that saw nothing is no flow; elsewhere addresses alone make a record
        // (firewall events, zero-counter records some exporters send on flow creation).
        if (hasCounters || (flow.HasAddresses && !isBiflow))
        {
            sink.OnFlow(in flow);
            delivered++;
        }

        if (isBiflow && (values.ReverseOctets != 0 || values.ReversePackets != 0))
        {
            var reverse = flow;
            reverse.SourceAddress = flow.DestinationAddress;
            reverse.DestinationAddress = flow.SourceAddress;
            reverse.SourcePort = flow.DestinationPort;
            reverse.DestinationPort = flow.SourcePort;
            reverse.InputInterface = flow.OutputInterface;
            reverse.OutputInterface = flow.InputInterface;
            reverse.Bytes = values.ReverseOctets;
            reverse.Packets = values.ReversePackets;
            reverse.TcpFlags = values.ReverseTcpFlags;
            reverse.Attributes |= FlowAttributes.Reverse;
            sink.OnFlow(in reverse);
            delivered++;
        }

        state.Statistics.Records += delivered;
        return delivered;
    }

    /// <summary>Keeps what an options data record announces: sampling rates and the exporter's boot time.</summary>
    public static void ApplyOptions(ref RecordValues values, in DataSetContext context, ExporterState state)
    {
        state.Statistics.OptionsRecords++;
        var rate = values.InlineSamplingRate();
        if (rate > 0)
        {
            state.Sampling.Set(context.Domain, values.Sampler, rate);
        }

        if (values.Has(RecordFields.SystemInit))
        {
            state.SetSystemInitTime(context.Domain, values.SystemInitMilliseconds);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadUnsigned(ReadOnlySpan<byte> value) => value.Length switch
    {
        1 => value[0],
        2 => BinaryPrimitives.ReadUInt16BigEndian(value),
        4 => BinaryPrimitives.ReadUInt32BigEndian(value),
        8 => BinaryPrimitives.ReadUInt64BigEndian(value),
        _ => ReadUnsignedReduced(value),
    };

    /// <summary>Reduced-size encoding (RFC 7011 §6.2): an unsigned integer in 3, 5, 6 or 7 bytes.</summary>
    private static ulong ReadUnsignedReduced(ReadOnlySpan<byte> value)
    {
        ulong result = 0;
        foreach (var b in value)
        {
            result = (result << 8) | b;
        }

        return result;
    }

    private static uint ReadUnsigned32(ReadOnlySpan<byte> value) => (uint)Math.Min(ReadUnsigned(value), uint.MaxValue);

    /// <summary>NTP 64-bit timestamp (RFC 7011 §6.1.9–6.1.10) to Unix milliseconds.</summary>
    private static long NtpToUnixMilliseconds(ReadOnlySpan<byte> value)
    {
        var seconds = BinaryPrimitives.ReadUInt32BigEndian(value);
        var fraction = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
        return ((seconds - NtpToUnixSeconds) * 1000) + (long)((((ulong)fraction * 1000) + (1UL << 31)) >> 32);
    }

    private static void Apply(FieldAction action, ReadOnlySpan<byte> value, ref RecordValues values)
    {
        ref var flow = ref values.Flow;
        switch (action)
        {
            case FieldAction.OctetDelta:
                values.OctetDelta = ReadUnsigned(value);
                values.Present |= RecordFields.OctetDelta;
                break;
            case FieldAction.PacketDelta:
                values.PacketDelta = ReadUnsigned(value);
                values.Present |= RecordFields.PacketDelta;
                break;
            case FieldAction.OctetTotal:
                values.OctetTotal = ReadUnsigned(value);
                values.Present |= RecordFields.OctetTotal;
                break;
            case FieldAction.PacketTotal:
                values.PacketTotal = ReadUnsigned(value);
                values.Present |= RecordFields.PacketTotal;
                break;
            case FieldAction.InitiatorOctets:
                values.InitiatorOctets = ReadUnsigned(value);
                values.Present |= RecordFields.InitiatorOctets;
                break;
            case FieldAction.InitiatorPackets:
                values.InitiatorPackets = ReadUnsigned(value);
                values.Present |= RecordFields.InitiatorPackets;
                break;
            case FieldAction.ResponderOctets:
            case FieldAction.ReverseOctetDelta:
            case FieldAction.ReverseOctetTotal:
                values.ReverseOctets = Math.Max(values.ReverseOctets, ReadUnsigned(value));
                values.Present |= RecordFields.Reverse;
                break;
            case FieldAction.ResponderPackets:
            case FieldAction.ReversePacketDelta:
            case FieldAction.ReversePacketTotal:
                values.ReversePackets = Math.Max(values.ReversePackets, ReadUnsigned(value));
                values.Present |= RecordFields.Reverse;
                break;
            case FieldAction.ReverseTcpFlags:
                values.ReverseTcpFlags = (ushort)ReadUnsigned(value);
                break;
            case FieldAction.IpProtocol:
                flow.IpProtocol = value[0];
                break;
            case FieldAction.TcpFlags:
                flow.TcpFlags = (ushort)ReadUnsigned(value);
                break;
            case FieldAction.SourcePort:
                flow.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(value);
                break;
            case FieldAction.DestinationPort:
                flow.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(value);
                break;
            case FieldAction.SourceIPv4:
                values.SourceIPv4 = NetworkAddress.FromIPv4(value);
                values.Present |= RecordFields.SourceIPv4;
                break;
            case FieldAction.DestinationIPv4:
                values.DestinationIPv4 = NetworkAddress.FromIPv4(value);
                values.Present |= RecordFields.DestinationIPv4;
                break;
            case FieldAction.SourceIPv6:
                values.SourceIPv6 = NetworkAddress.FromIPv6(value);
                values.Present |= RecordFields.SourceIPv6;
                break;
            case FieldAction.DestinationIPv6:
                values.DestinationIPv6 = NetworkAddress.FromIPv6(value);
                values.Present |= RecordFields.DestinationIPv6;
                break;
            case FieldAction.InputInterface:
                flow.InputInterface = (uint)ReadUnsigned(value);
                values.Present |= RecordFields.InputInterface;
                break;
            case FieldAction.OutputInterface:
                flow.OutputInterface = (uint)ReadUnsigned(value);
                values.Present |= RecordFields.OutputInterface;
                break;
            case FieldAction.InputPhysicalInterface:
                values.PhysicalInput = (uint)ReadUnsigned(value);
                break;
            case FieldAction.OutputPhysicalInterface:
                values.PhysicalOutput = (uint)ReadUnsigned(value);
                break;
            case FieldAction.IcmpTypeCode:
                flow.IcmpType = value[0];
                flow.IcmpCode = value[1];
                values.Present |= RecordFields.Icmp;
                break;
            case FieldAction.IcmpType:
                flow.IcmpType = value[0];
                values.Present |= RecordFields.Icmp;
                break;
            case FieldAction.IcmpCode:
                flow.IcmpCode = value[0];
                values.Present |= RecordFields.Icmp;
                break;
            case FieldAction.Vlan:
                flow.Vlan = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(value) & 0x0FFF);
                break;
            case FieldAction.Direction:
                flow.Direction = DirectionOf(value[0]);
                break;
            case FieldAction.FragmentOffset:
                if ((BinaryPrimitives.ReadUInt16BigEndian(value) & 0x1FFF) != 0)
                {
                    values.Present |= RecordFields.Fragment;
                }

                break;
            case FieldAction.FragmentFlags:
                if ((value[0] & MoreFragmentsFlag) != 0)
                {
                    values.Present |= RecordFields.Fragment;
                }

                break;
            case FieldAction.FirstSwitchedUptime:
                values.FirstUptime = BinaryPrimitives.ReadUInt32BigEndian(value);
                values.Present |= RecordFields.FirstUptime;
                break;
            case FieldAction.LastSwitchedUptime:
                values.LastUptime = BinaryPrimitives.ReadUInt32BigEndian(value);
                values.Present |= RecordFields.LastUptime;
                break;
            case FieldAction.StartSeconds:
                values.StartMilliseconds = BinaryPrimitives.ReadUInt32BigEndian(value) * 1000L;
                values.Present |= RecordFields.Start;
                break;
            case FieldAction.EndSeconds:
                values.EndMilliseconds = BinaryPrimitives.ReadUInt32BigEndian(value) * 1000L;
                values.Present |= RecordFields.End;
                break;
            case FieldAction.StartMilliseconds:
                values.StartMilliseconds = (long)BinaryPrimitives.ReadUInt64BigEndian(value);
                values.Present |= RecordFields.Start;
                break;
            case FieldAction.EndMilliseconds:
                values.EndMilliseconds = (long)BinaryPrimitives.ReadUInt64BigEndian(value);
                values.Present |= RecordFields.End;
                break;
            case FieldAction.StartNtp:
                values.StartMilliseconds = NtpToUnixMilliseconds(value);
                values.Present |= RecordFields.Start;
                break;
            case FieldAction.EndNtp:
                values.EndMilliseconds = NtpToUnixMilliseconds(value);
                values.Present |= RecordFields.End;
                break;
            case FieldAction.StartDeltaMicroseconds:
                values.StartDeltaMicroseconds = BinaryPrimitives.ReadUInt32BigEndian(value);
                values.Present |= RecordFields.StartDelta;
                break;
            case FieldAction.EndDeltaMicroseconds:
                values.EndDeltaMicroseconds = BinaryPrimitives.ReadUInt32BigEndian(value);
                values.Present |= RecordFields.EndDelta;
                break;
            case FieldAction.DurationMilliseconds:
                values.DurationMicroseconds = ReadUnsigned(value) * 1000;
                values.Present |= RecordFields.Duration;
                break;
            case FieldAction.DurationMicroseconds:
                values.DurationMicroseconds = ReadUnsigned(value);
                values.Present |= RecordFields.Duration;
                break;
            case FieldAction.ObservationMilliseconds:
                values.ObservationMilliseconds = (long)BinaryPrimitives.ReadUInt64BigEndian(value);
                values.Present |= RecordFields.Observation;
                break;
            case FieldAction.SystemInitMilliseconds:
                values.SystemInitMilliseconds = (long)BinaryPrimitives.ReadUInt64BigEndian(value);
                values.Present |= RecordFields.SystemInit;
                break;
            case FieldAction.SamplingInterval:
                values.SamplingInterval = ReadUnsigned32(value);
                values.Present |= RecordFields.SamplingInterval;
                break;
            case FieldAction.SamplerId:
                flow.SamplerId = ReadUnsigned32(value);
                values.Present |= RecordFields.SamplerId;
                break;
            case FieldAction.SelectorId:
                values.SelectorId = ReadUnsigned32(value);
                values.Present |= RecordFields.SelectorId;
                break;
            case FieldAction.SelectorAlgorithm:
                values.SelectorAlgorithm = (ushort)ReadUnsigned(value);
                break;
            case FieldAction.PacketInterval:
                values.PacketInterval = ReadUnsigned32(value);
                values.Present |= RecordFields.PacketInterval;
                break;
            case FieldAction.PacketSpace:
                values.PacketSpace = ReadUnsigned32(value);
                values.Present |= RecordFields.PacketSpace;
                break;
            case FieldAction.SamplingSize:
                values.SamplingSize = ReadUnsigned32(value);
                values.Present |= RecordFields.SamplingSize;
                break;
            case FieldAction.SamplingPopulation:
                values.SamplingPopulation = ReadUnsigned32(value);
                values.Present |= RecordFields.SamplingPopulation;
                break;
            case FieldAction.SamplingProbability:
                values.SamplingProbability = BinaryPrimitives.ReadDoubleBigEndian(value);
                values.Present |= RecordFields.SamplingProbability;
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Templates often carry both IPv4 and IPv6 address fields with the unused pair zeroed: take the family whose
    /// addresses are set, IPv4 when both or neither are.
    /// </summary>
    private static void ResolveAddresses(ref RecordValues values)
    {
        ref var flow = ref values.Flow;
        var hasV4 = values.HasAny(RecordFields.SourceIPv4 | RecordFields.DestinationIPv4);
        var hasV6 = values.HasAny(RecordFields.SourceIPv6 | RecordFields.DestinationIPv6);
        if (hasV6 && (!hasV4 || (IsZeroV4(values.SourceIPv4) && IsZeroV4(values.DestinationIPv4)
            && (values.SourceIPv6 != NetworkAddress.None || values.DestinationIPv6 != NetworkAddress.None))))
        {
            flow.SourceAddress = values.SourceIPv6;
            flow.DestinationAddress = values.DestinationIPv6;
            flow.IpVersion = 6;
        }
        else if (hasV4)
        {
            flow.SourceAddress = values.Has(RecordFields.SourceIPv4) ? values.SourceIPv4 : NetworkAddress.FromIPv4(0);
            flow.DestinationAddress = values.Has(RecordFields.DestinationIPv4) ? values.DestinationIPv4 : NetworkAddress.FromIPv4(0);
            flow.IpVersion = 4;
        }
    }

    private static bool IsZeroV4(NetworkAddress address) => address == NetworkAddress.None || (address.IsIPv4 && address.IPv4Value == 0);

    private static void ResolveCounters(ref RecordValues values)
    {
        ref var flow = ref values.Flow;
        flow.Bytes = values.Has(RecordFields.OctetDelta) ? values.OctetDelta
            : values.Has(RecordFields.OctetTotal) ? values.OctetTotal
            : values.InitiatorOctets;
        flow.Packets = values.Has(RecordFields.PacketDelta) ? values.PacketDelta
            : values.Has(RecordFields.PacketTotal) ? values.PacketTotal
            : values.InitiatorPackets;
    }

    private static void ResolveTimes(ref RecordValues values, in DataSetContext context, ExporterState state)
    {
        var export = context.ExportMilliseconds;
        long start = 0, end = 0;
        bool hasStart = false, hasEnd = false;

        if (values.Has(RecordFields.Start))
        {
            start = values.StartMilliseconds;
            hasStart = true;
        }
        else if (values.Has(RecordFields.FirstUptime) && TryUptimeToUnix(values.FirstUptime, ref values, context, state, out start))
        {
            hasStart = true;
        }
        else if (values.Has(RecordFields.StartDelta))
        {
            start = export - (values.StartDeltaMicroseconds / 1000);
            hasStart = true;
        }

        if (values.Has(RecordFields.End))
        {
            end = values.EndMilliseconds;
            hasEnd = true;
        }
        else if (values.Has(RecordFields.LastUptime) && TryUptimeToUnix(values.LastUptime, ref values, context, state, out end))
        {
            hasEnd = true;
        }
        else if (values.Has(RecordFields.EndDelta))
        {
            end = export - (values.EndDeltaMicroseconds / 1000);
            hasEnd = true;
        }
        else if (values.Has(RecordFields.Observation))
        {
            end = values.ObservationMilliseconds;
            hasEnd = true;
        }

        var duration = (long)(values.DurationMicroseconds / 1000);
        if (!hasStart && !hasEnd && values.Has(RecordFields.FirstUptime | RecordFields.LastUptime))
        {
            // Uptime-relative times without a known boot time: the flow ended no later than its export.
            end = export;
            start = export - (int)(values.LastUptime - values.FirstUptime);
        }
        else if (hasStart && !hasEnd)
        {
            end = values.Has(RecordFields.Duration) ? start + duration : start;
        }
        else if (!hasStart && hasEnd)
        {
            start = values.Has(RecordFields.Duration) ? end - duration : end;
        }
        else if (!hasStart)
        {
            start = end = export;
        }

        values.Flow.StartMilliseconds = start;
        values.Flow.EndMilliseconds = end;
    }

    /// <summary>
    /// An uptime-relative time (ms since the exporter booted) to Unix milliseconds: against the NetFlow v9 header's
    /// sysUptime and export time, or for IPFIX against systemInitTimeMilliseconds. The signed 32-bit difference
    /// keeps it right across the 2^32 ms wrap.
    /// </summary>
    private static bool TryUptimeToUnix(uint uptime, ref RecordValues values, in DataSetContext context, ExporterState state, out long unixMilliseconds)
    {
        if (context.HasSystemUptime)
        {
            unixMilliseconds = context.ExportMilliseconds - (int)(context.SystemUptimeMilliseconds - uptime);
            return true;
        }

        long init;
        if (values.Has(RecordFields.SystemInit))
        {
            init = values.SystemInitMilliseconds;
        }
        else if (!state.TryGetSystemInitTime(context.Domain, out init))
        {
            unixMilliseconds = 0;
            return false;
        }

        // A boot time that is not a plausible Unix time says nothing about this flow.
        if (init < 0 || init > context.ExportMilliseconds)
        {
            unixMilliseconds = 0;
            return false;
        }

        unixMilliseconds = init + uptime;
        var behind = context.ExportMilliseconds - unixMilliseconds;
        if (behind > int.MaxValue)
        {
            unixMilliseconds += ((behind - int.MaxValue + uint.MaxValue) >> 32) << 32;
        }

        return true;
    }
}
