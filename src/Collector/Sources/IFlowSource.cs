namespace FlowCollector.Collector.Sources;

/// <summary>What kind of input a source is: it decides where /healthz lists it.</summary>
internal enum SourceKind
{
    /// <summary>Sockets: flow export listeners and mirrored-traffic listeners.</summary>
    Listener,

    /// <summary>Live capture on an interface through libpcap.</summary>
    Capture,

    /// <summary>The kernel's interface counters, read every second.</summary>
    InterfaceCounters,
}

/// <summary>
/// Where traffic comes from: flow export listeners, mirrored-traffic listeners, live capture, /proc/net/dev. Each
/// feeds the aggregator on threads of its own (or, for counters, when the tick polls it) and keeps counters, all of
/// which reach /metrics.
/// </summary>
internal interface IFlowSource : IDisposable
{
    /// <summary>The name in logs, metrics and /healthz (netflow, mirror-udp, capture-eth1, proc-net-dev).</summary>
    string Name { get; }

    SourceKind Kind { get; }

    /// <summary>The UDP port it receives on (the kernel's choice when 0 was asked); 0 when it has none.</summary>
    int UdpPort { get; }

    /// <summary>Opens what it reads and starts reading; an error names the option and the reason.</summary>
    void Start();

    /// <summary>Datagrams, frames or reads taken in.</summary>
    long Received { get; }

    /// <summary>Datagrams refused because their sender is not allowed.</summary>
    long Rejected { get; }

    /// <summary>What was dropped before the source could read it, where the source can tell (libpcap's counts).</summary>
    long Dropped { get; }

    /// <summary>Its other counters by event name (not_ip, read_failures, ...), for flowcollector_source_events_total.</summary>
    void ReadEvents(ICollection<KeyValuePair<string, long>> events);
}

/// <summary>A source read by the tick once a second rather than by a thread of its own.</summary>
internal interface IPolledSource : IFlowSource
{
    void Poll(long nowMilliseconds);
}
