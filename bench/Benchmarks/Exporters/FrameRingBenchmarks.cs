using BenchmarkDotNet.Attributes;
using FlowCollector.Decoders.Packets;
using FlowCollector.Exporters.Evidence;

namespace FlowCollector.Benchmarks.Exporters;

/// <summary>
/// The pre-attack ring's cost per frame on the capture thread: a full-size frame cut to the snap length, and a
/// minimum-size frame (a SYN flood's), appended to a 16 MiB ring that is already full, so that every append also
/// moves the oldest frames out.
/// </summary>
[MemoryDiagnoser]
public class FrameRingBenchmarks
{
    private const int Frames = 1024;
    private readonly FrameRing _ring = new("eth1", 16 * 1024 * 1024, 128);
    private readonly byte[] _full = new byte[1514];
    private readonly byte[] _small = new byte[60];
    private long _micros = 1_800_000_000_000_000;

    [GlobalSetup]
    public void Fill()
    {
        for (var i = 0; i < 200_000; i++)
        {
            _ring.Append(_full, LinkType.Ethernet, _micros++, _full.Length);
        }
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void FullSizeFrame()
    {
        for (var i = 0; i < Frames; i++)
        {
            _ring.Append(_full, LinkType.Ethernet, _micros++, _full.Length);
        }
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void MinimumSizeFrame()
    {
        for (var i = 0; i < Frames; i++)
        {
            _ring.Append(_small, LinkType.Ethernet, _micros++, _small.Length);
        }
    }
}
