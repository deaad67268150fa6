namespace FlowCollector.Decoders.Templates;

/// <summary>
/// Maps IANA IPFIX information elements (RFC 7012, shared with NetFlow v9 for IDs 1–127 and used by v9
/// exporters above that) to what the record reader does with them. A field whose length does not fit its
/// type is skipped rather than misread.
/// </summary>
internal static class InformationElements
{
    /// <summary>Private enterprise number of RFC 5103 reverse information elements.</summary>
    public const uint ReversePen = 29305;

    public static FieldAction Classify(ushort elementId, uint enterprise, ushort length)
    {
        if (enterprise == ReversePen)
        {
            return ClassifyReverse(elementId, length);
        }

        if (enterprise != 0)
        {
            return FieldAction.Skip;
        }

        var isVariable = length == TemplateField.VariableLength;
        var unsigned = !isVariable && length is >= 1 and <= 8;
        return elementId switch
        {
            1 when unsigned => FieldAction.OctetDelta,
            2 when unsigned => FieldAction.PacketDelta,
            4 when length == 1 => FieldAction.IpProtocol,
            6 when length is 1 or 2 => FieldAction.TcpFlags,
            7 or 180 or 182 when length == 2 => FieldAction.SourcePort,
            11 or 181 or 183 when length == 2 => FieldAction.DestinationPort,
            8 when length == 4 => FieldAction.SourceIPv4,
            12 when length == 4 => FieldAction.DestinationIPv4,
            10 when unsigned && length <= 4 => FieldAction.InputInterface,
            14 when unsigned && length <= 4 => FieldAction.OutputInterface,
            21 when length == 4 => FieldAction.LastSwitchedUptime,
            22 when length == 4 => FieldAction.FirstSwitchedUptime,
            27 when length == 16 => FieldAction.SourceIPv6,
            28 when length == 16 => FieldAction.DestinationIPv6,
            32 or 139 when length == 2 => FieldAction.IcmpTypeCode,
            34 or 50 when unsigned && length <= 4 => FieldAction.SamplingInterval,
            48 when unsigned => FieldAction.SamplerId,
            302 when unsigned => FieldAction.SelectorId,
            304 when unsigned && length <= 2 => FieldAction.SelectorAlgorithm,
            58 or 243 when length == 2 => FieldAction.Vlan,
            61 when length == 1 => FieldAction.Direction,
            85 when unsigned => FieldAction.OctetTotal,
            86 when unsigned => FieldAction.PacketTotal,
            88 when length == 2 => FieldAction.FragmentOffset,
            150 when length == 4 => FieldAction.StartSeconds,
            151 when length == 4 => FieldAction.EndSeconds,
            152 when length == 8 => FieldAction.StartMilliseconds,
            153 when length == 8 => FieldAction.EndMilliseconds,
            154 or 156 when length == 8 => FieldAction.StartNtp,
            155 or 157 when length == 8 => FieldAction.EndNtp,
            158 when length == 4 => FieldAction.StartDeltaMicroseconds,
            159 when length == 4 => FieldAction.EndDeltaMicroseconds,
            160 when length == 8 => FieldAction.SystemInitMilliseconds,
            161 when unsigned && length <= 4 => FieldAction.DurationMilliseconds,
            162 when unsigned && length <= 4 => FieldAction.DurationMicroseconds,
            176 or 178 when length == 1 => FieldAction.IcmpType,
            177 or 179 when length == 1 => FieldAction.IcmpCode,
            197 when length == 1 => FieldAction.FragmentFlags,
            231 when unsigned => FieldAction.InitiatorOctets,
            232 when unsigned => FieldAction.ResponderOctets,
            252 when unsigned && length <= 4 => FieldAction.InputPhysicalInterface,
            253 when unsigned && length <= 4 => FieldAction.OutputPhysicalInterface,
            298 when unsigned => FieldAction.InitiatorPackets,
            299 when unsigned => FieldAction.ResponderPackets,
            305 when unsigned && length <= 4 => FieldAction.PacketInterval,
            306 when unsigned && length <= 4 => FieldAction.PacketSpace,
            309 when unsigned && length <= 4 => FieldAction.SamplingSize,
            310 when unsigned && length <= 4 => FieldAction.SamplingPopulation,
            311 when length == 8 => FieldAction.SamplingProbability,
            323 when length == 8 => FieldAction.ObservationMilliseconds,
            _ => FieldAction.Skip,
        };
    }

    private static FieldAction ClassifyReverse(ushort elementId, ushort length)
    {
        var unsigned = length is >= 1 and <= 8;
        return elementId switch
        {
            1 when unsigned => FieldAction.ReverseOctetDelta,
            2 when unsigned => FieldAction.ReversePacketDelta,
            85 when unsigned => FieldAction.ReverseOctetTotal,
            86 when unsigned => FieldAction.ReversePacketTotal,
            6 when length is 1 or 2 => FieldAction.ReverseTcpFlags,
            _ => FieldAction.Skip,
        };
    }
}
