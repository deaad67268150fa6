namespace FlowCollector.Decoders.Templates;

/// <summary>Which values a record carried; a value is meaningful only when its bit is set.</summary>
[Flags]
internal enum RecordFields : uint
{
    None = 0,
    OctetDelta = 1u << 0,
    PacketDelta = 1u << 1,
    OctetTotal = 1u << 2,
    PacketTotal = 1u << 3,
    InitiatorOctets = 1u << 4,
    InitiatorPackets = 1u << 5,
    SourceIPv4 = 1u << 6,
    DestinationIPv4 = 1u << 7,
    SourceIPv6 = 1u << 8,
    Icmp = 1u << 9,
    InputInterface = 1u << 10,
    OutputInterface = 1u << 11,
    FirstUptime = 1u << 12,
    LastUptime = 1u << 13,
    Start = 1u << 14,
    End = 1u << 15,
    StartDelta = 1u << 16,
    EndDelta = 1u << 17,
    Duration = 1u << 18,
    Observation = 1u << 19,
    SystemInit = 1u << 20,
    SamplingInterval = 1u << 21,
    SamplerId = 1u << 22,
    PacketInterval = 1u << 23,
    PacketSpace = 1u << 24,
    SamplingSize = 1u << 25,
    SamplingPopulation = 1u << 26,
    SamplingProbability = 1u << 27,
    Reverse = 1u << 28,
    DestinationIPv6 = 1u << 29,
    Fragment = 1u << 30,
    SelectorId = 1u << 31,
}

/// <summary>The raw values of one data record before times, counters and sampling are resolved.</summary>
internal struct RecordValues
{
    public RecordFields Present;
    public FlowRecord Flow;
    public NetworkAddress SourceIPv4;
    public NetworkAddress DestinationIPv4;
    public NetworkAddress SourceIPv6;
    public NetworkAddress DestinationIPv6;
    public ulong OctetDelta;
    public ulong PacketDelta;
    public ulong OctetTotal;
    public ulong PacketTotal;
    public ulong InitiatorOctets;
    public ulong InitiatorPackets;
    public ulong ReverseOctets;
    public ulong ReversePackets;
    public ushort ReverseTcpFlags;
    public uint PhysicalInput;
    public uint PhysicalOutput;
    public uint FirstUptime;
    public uint LastUptime;
    public long StartMilliseconds;
    public long EndMilliseconds;
    public uint StartDeltaMicroseconds;
    public uint EndDeltaMicroseconds;
    public ulong DurationMicroseconds;
    public long ObservationMilliseconds;
    public long SystemInitMilliseconds;
    public uint SelectorId;
    public ushort SelectorAlgorithm;
    public uint SamplingInterval;
    public uint PacketInterval;
    public uint PacketSpace;
    public uint SamplingSize;
    public uint SamplingPopulation;
    public double SamplingProbability;

    /// <summary>The sampler the record names: flowSamplerId (48) if present, else selectorId (302); 0 when none.</summary>
    public readonly uint Sampler => Has(RecordFields.SamplerId) ? Flow.SamplerId : SelectorId;

    public readonly bool Has(RecordFields fields) => (Present & fields) == fields;

    public readonly bool HasAny(RecordFields fields) => (Present & fields) != 0;

    /// <summary>
    /// The sampling rate the record itself states, or 0. An explicit interval (34, 50) wins; otherwise the selector
    /// algorithm (RFC 5477: 1 count-based, 3 random n-out-of-N, 4 probabilistic) says which elements count, because
    /// exporters send the others with placeholder values (Cisco: packet interval 1 beside size 1 of 256).
    /// </summary>
    public readonly uint InlineSamplingRate()
    {
        if (Has(RecordFields.SamplingInterval) && SamplingInterval > 0)
        {
            return SamplingInterval;
        }

        return SelectorAlgorithm switch
        {
            1 => CountBasedRate(requireSpace: false),
            3 => RandomRate(),
            4 => ProbabilisticRate(),
            _ => FirstNonZero(RandomRate(), CountBasedRate(requireSpace: true), ProbabilisticRate()),
        };
    }

    private static uint FirstNonZero(uint first, uint second, uint third) => first != 0 ? first : second != 0 ? second : third;

    /// <summary>Systematic count-based sampling selects PacketInterval of every PacketInterval + PacketSpace packets.</summary>
    private readonly uint CountBasedRate(bool requireSpace)
    {
        if (!Has(RecordFields.PacketInterval) || PacketInterval == 0 || (requireSpace && !Has(RecordFields.PacketSpace)))
        {
            return 0;
        }

        var space = Has(RecordFields.PacketSpace) ? PacketSpace : 0;
        return (uint)Math.Min(uint.MaxValue, ((ulong)PacketInterval + space) / PacketInterval);
    }

    private readonly uint RandomRate() =>
        Has(RecordFields.SamplingSize | RecordFields.SamplingPopulation) && SamplingSize > 0 && SamplingPopulation >= SamplingSize
            ? SamplingPopulation / SamplingSize
            : 0;

    private readonly uint ProbabilisticRate() =>
        Has(RecordFields.SamplingProbability) && SamplingProbability is > 0 and <= 1
            ? (uint)Math.Min(uint.MaxValue, Math.Round(1 / SamplingProbability))
            : 0;
}
