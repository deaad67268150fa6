namespace FlowCollector.Decoders.Tests.Support;

/// <summary>Collects decoded records (and counters, and both in arrival order) into lists shared by copies of the sink.</summary>
internal struct RecordingSink(List<FlowRecord> records, List<InterfaceCounters> counters, List<object> all) : IFlowSink
{
    public RecordingSink()
        : this([], [], [])
    {
    }

    public readonly List<FlowRecord> Records => records;

    public readonly List<InterfaceCounters> Counters => counters;

    /// <summary>Flow records and counters boxed, in the order the decoder delivered them.</summary>
    public readonly List<object> InOrder => all;

    public readonly void OnFlow(in FlowRecord flow)
    {
        records.Add(flow);
        all.Add(flow);
    }

    public readonly void OnCounters(in InterfaceCounters snapshot)
    {
        counters.Add(snapshot);
        all.Add(snapshot);
    }

    public readonly void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
    {
    }
}

/// <summary>Counts records without keeping them.</summary>
internal struct CountingSink : IFlowSink
{
    public long Records { get; private set; }

    public ulong Bytes { get; private set; }

    public long Counters { get; private set; }

    /// <summary>Sampled packet headers handed on (sFlow).</summary>
    public long Headers { get; private set; }

    public void OnFlow(in FlowRecord flow)
    {
        Records++;
        Bytes += flow.Bytes;
    }

    public void OnCounters(in InterfaceCounters counters) => Counters++;

    public void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds) => Headers++;
}
