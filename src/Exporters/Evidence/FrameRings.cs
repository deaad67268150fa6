namespace FlowCollector.Exporters.Evidence;

/// <summary>The rings the capture sources keep, made at start-up and read by the incident pcap writer.</summary>
public sealed class FrameRings
{
    private readonly Lock _lock = new();
    private volatile FrameRing[] _rings = [];

    public IReadOnlyList<FrameRing> All => _rings;

    public void Add(FrameRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        lock (_lock)
        {
            _rings = [.. _rings, ring];
        }
    }
}
