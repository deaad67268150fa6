using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Exporters.Evidence;

/// <summary>
/// What libpcap says of a captured frame, in the forms rings, pcaps and the store keep: times in microseconds since
/// the Unix epoch, and the frame's length on the wire (which the snap length may have cut).
/// </summary>
public static class CapturedFrames
{
    public static long Microseconds(PosixTimeval timeval)
    {
        ArgumentNullException.ThrowIfNull(timeval);
        return ((long)timeval.Seconds * 1_000_000) + (long)timeval.MicroSeconds;
    }

    public static long Microseconds(DateTimeOffset at) => (at - DateTimeOffset.UnixEpoch).Ticks / 10;

    public static DateTimeOffset Time(long microseconds) => DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10);

    /// <summary>The frame's length on the wire; the captured length where the header does not say.</summary>
    public static int WireLength(ICaptureHeader header, int captured) => header is PcapHeader pcap ? (int)pcap.PacketLength : captured;
}
