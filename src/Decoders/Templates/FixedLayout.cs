namespace FlowCollector.Decoders.Templates;

/// <summary>
/// Where a fixed-length template puts the fields nearly every flow record carries (addresses, ports, protocol,
/// flags, counters, interfaces, times, direction, sampler), so that they are read in straight-line code at known offsets instead of
/// field by field through the reader's general dispatch. The template's other fields are read as before, in order.
/// </summary>
internal sealed class FixedLayout
{
    private FixedLayout(ReadStep[] rest)
    {
        Rest = rest;
    }

    /// <summary>Offsets in the record, -1 where the template has no such field; unsigned fields also have their length.</summary>
    public short SourceIPv4 { get; private init; } = -1;

    public short DestinationIPv4 { get; private init; } = -1;

    public short SourceIPv6 { get; private init; } = -1;

    public short DestinationIPv6 { get; private init; } = -1;

    public short SourcePort { get; private init; } = -1;

    public short DestinationPort { get; private init; } = -1;

    public short IpProtocol { get; private init; } = -1;

    public short FirstUptime { get; private init; } = -1;

    public short LastUptime { get; private init; } = -1;

    public short Direction { get; private init; } = -1;

    public short TcpFlags { get; private init; } = -1;

    public byte TcpFlagsLength { get; private init; }

    public short OctetDelta { get; private init; } = -1;

    public byte OctetDeltaLength { get; private init; }

    public short PacketDelta { get; private init; } = -1;

    public byte PacketDeltaLength { get; private init; }

    public short InputInterface { get; private init; } = -1;

    public byte InputInterfaceLength { get; private init; }

    public short OutputInterface { get; private init; } = -1;

    public byte OutputInterfaceLength { get; private init; }

    public short SamplerId { get; private init; } = -1;

    public byte SamplerIdLength { get; private init; }

    /// <summary>The template's other fields, in template order, for the general reader.</summary>
    public ReadStep[] Rest { get; }

    /// <summary>The layout of a template whose fields are all of fixed length, as <paramref name="steps"/> lists them.</summary>
    public static FixedLayout Of(ReadStep[] steps)
    {
        // A field the template repeats is read from its last occurrence, as the general reader's last write wins.
        short At(FieldAction action) => (short)(Array.FindLast(steps, s => s.Action == action) is { Length: > 0 } step ? step.Offset : -1);
        byte LengthOf(FieldAction action) => (byte)(Array.FindLast(steps, s => s.Action == action) is { Length: > 0 } step ? step.Length : 0);

        return new FixedLayout([.. steps.Where(s => !IsStraight(s.Action))])
        {
            SourceIPv4 = At(FieldAction.SourceIPv4),
            DestinationIPv4 = At(FieldAction.DestinationIPv4),
            SourceIPv6 = At(FieldAction.SourceIPv6),
            DestinationIPv6 = At(FieldAction.DestinationIPv6),
            SourcePort = At(FieldAction.SourcePort),
            DestinationPort = At(FieldAction.DestinationPort),
            IpProtocol = At(FieldAction.IpProtocol),
            FirstUptime = At(FieldAction.FirstSwitchedUptime),
            LastUptime = At(FieldAction.LastSwitchedUptime),
            Direction = At(FieldAction.Direction),
            SamplerId = At(FieldAction.SamplerId),
            SamplerIdLength = LengthOf(FieldAction.SamplerId),
            TcpFlags = At(FieldAction.TcpFlags),
            TcpFlagsLength = LengthOf(FieldAction.TcpFlags),
            OctetDelta = At(FieldAction.OctetDelta),
            OctetDeltaLength = LengthOf(FieldAction.OctetDelta),
            PacketDelta = At(FieldAction.PacketDelta),
            PacketDeltaLength = LengthOf(FieldAction.PacketDelta),
            InputInterface = At(FieldAction.InputInterface),
            InputInterfaceLength = LengthOf(FieldAction.InputInterface),
            OutputInterface = At(FieldAction.OutputInterface),
            OutputInterfaceLength = LengthOf(FieldAction.OutputInterface),
        };
    }

    private static bool IsStraight(FieldAction action) => action is FieldAction.SourceIPv4 or FieldAction.DestinationIPv4
        or FieldAction.SourceIPv6 or FieldAction.DestinationIPv6 or FieldAction.SourcePort or FieldAction.DestinationPort
        or FieldAction.IpProtocol or FieldAction.FirstSwitchedUptime or FieldAction.LastSwitchedUptime or FieldAction.TcpFlags
        or FieldAction.OctetDelta or FieldAction.PacketDelta or FieldAction.InputInterface or FieldAction.OutputInterface
        or FieldAction.Direction or FieldAction.SamplerId;
}
