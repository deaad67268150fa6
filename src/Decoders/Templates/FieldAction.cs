namespace FlowCollector.Decoders.Templates;

/// <summary>What the record reader does with one template field. Chosen once, when the template is compiled.</summary>
internal enum FieldAction : byte
{
    Skip = 0,
    OctetDelta,
    PacketDelta,
    OctetTotal,
    PacketTotal,
    InitiatorOctets,
    ResponderOctets,
    InitiatorPackets,
    ResponderPackets,
    ReverseOctetDelta,
    ReversePacketDelta,
    ReverseOctetTotal,
    ReversePacketTotal,
    ReverseTcpFlags,
    IpProtocol,
    TcpFlags,
    SourcePort,
    DestinationPort,
    SourceIPv4,
    DestinationIPv4,
    SourceIPv6,
    DestinationIPv6,
    InputInterface,
    OutputInterface,
    InputPhysicalInterface,
    OutputPhysicalInterface,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    Vlan,
    Direction,
    FragmentOffset,
    FragmentFlags,
    FirstSwitchedUptime,
    LastSwitchedUptime,
    StartSeconds,
    EndSeconds,
    StartMilliseconds,
    EndMilliseconds,
    StartNtp,
    EndNtp,
    StartDeltaMicroseconds,
    EndDeltaMicroseconds,
    DurationMilliseconds,
    DurationMicroseconds,
    ObservationMilliseconds,
    SystemInitMilliseconds,
    SamplingInterval,
    SamplerId,
    SelectorId,
    SelectorAlgorithm,
    PacketInterval,
    PacketSpace,
    SamplingSize,
    SamplingPopulation,
    SamplingProbability,
}

/// <summary>One compiled template field: the action and the length on the wire.</summary>
internal readonly struct TemplateField(FieldAction action, ushort length)
{
    /// <summary>The template length that announces a variable-length field (RFC 7011 §7).</summary>
    public const ushort VariableLength = 0xFFFF;

    public FieldAction Action { get; } = action;

    public ushort Length { get; } = length;

    public bool IsVariable => Length == VariableLength;
}
