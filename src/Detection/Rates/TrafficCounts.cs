using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// Counts of one key over one second, already multiplied by the sampling rate. Doubles, because a flow record that
/// lasts longer than a second is spread over its duration in fractions. Sixteen doubles, laid out in order, so that
/// adding one to another is four vector operations.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
[SuppressMessage("Design", "CA1051", Justification = "Plain counts updated in place through refs on the hot path; properties would copy.")]
public struct TrafficCounts
{
    public double Packets;
    public double Bytes;
    public double Flows;
    public double TcpPackets;
    public double UdpPackets;
    public double IcmpPackets;
    public double GrePackets;
    public double OtherPackets;
    public double TcpBytes;
    public double UdpBytes;
    public double IcmpBytes;
    public double OtherBytes;

    /// <summary>TCP packets with SYN and without ACK (connection attempts).</summary>
    public double SynPackets;

    /// <summary>TCP packets with ACK alone, or ACK with PSH: no SYN, FIN or RST.</summary>
    public double AckPackets;

    /// <summary>TCP packets with RST.</summary>
    public double RstPackets;

    public double FragmentPackets;

    public readonly bool IsEmpty => Packets == 0 && Bytes == 0 && Flows == 0;

    /// <summary>Bits per second, for a one-second sample.</summary>
    public readonly double BitsPerSecond => Bytes * 8;

    public const int Fields = 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in TrafficCounts other)
    {
        ref var target = ref Unsafe.As<TrafficCounts, double>(ref this);
        ref var source = ref Unsafe.As<TrafficCounts, double>(ref Unsafe.AsRef(in other));
        for (nuint i = 0; i < Fields; i += 4)
        {
            (Vector256.LoadUnsafe(ref target, i) + Vector256.LoadUnsafe(ref source, i)).StoreUnsafe(ref target, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in TrafficCounts other, double factor)
    {
        ref var target = ref Unsafe.As<TrafficCounts, double>(ref this);
        ref var source = ref Unsafe.As<TrafficCounts, double>(ref Unsafe.AsRef(in other));
        var scale = Vector256.Create(factor);
        for (nuint i = 0; i < Fields; i += 4)
        {
            (Vector256.LoadUnsafe(ref target, i) + (Vector256.LoadUnsafe(ref source, i) * scale)).StoreUnsafe(ref target, i);
        }
    }

    /// <summary>
    /// Removes what floating-point spreading leaves behind once a spread has run out (1e-9 of a packet is no
    /// traffic), so that keys can go idle.
    /// </summary>
    public void Settle()
    {
        const double Epsilon = 1e-6;
        if (Math.Abs(Packets) < Epsilon && Math.Abs(Bytes) < Epsilon && Math.Abs(Flows) < Epsilon)
        {
            this = default;
        }
    }
}
