namespace FlowCollector.Decoders.Tests.Support;

/// <summary>Collects decoded records into a list shared by copies of the sink.</summary>
internal struct RecordingSink(List<FlowRecord> records) : IFlowSink
{
    public RecordingSink()
        : this([])
    {
    }

    public readonly List<FlowRecord> Records => records;

    public readonly void OnFlow(in FlowRecord flow) => records.Add(flow);
}

/// <summary>Counts records without keeping them.</summary>
internal struct CountingSink : IFlowSink
{
    public long Records { get; private set; }

    public ulong Bytes { get; private set; }

    public void OnFlow(in FlowRecord flow)
    {
        Records++;
        Bytes += flow.Bytes;
    }
}
