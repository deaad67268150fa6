using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// Counts of one key over one second, already multiplied by the sampling rate. Doubles, because a flow record that
/// lasts longer than a second is spread over its duration in fractions.
/// </summary>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in TrafficCounts other, double factor = 1)
    {
        Packets += other.Packets * factor;
        Bytes += other.Bytes * factor;
        Flows += other.Flows * factor;
        TcpPackets += other.TcpPackets * factor;
        UdpPackets += other.UdpPackets * factor;
        IcmpPackets += other.IcmpPackets * factor;
        GrePackets += other.GrePackets * factor;
        OtherPackets += other.OtherPackets * factor;
        TcpBytes += other.TcpBytes * factor;
        UdpBytes += other.UdpBytes * factor;
        SynPackets += other.SynPackets * factor;
        AckPackets += other.AckPackets * factor;
        RstPackets += other.RstPackets * factor;
        FragmentPackets += other.FragmentPackets * factor;
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
