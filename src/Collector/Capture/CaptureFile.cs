using FlowCollector.Decoders.Packets;
using FlowCollector.Exporters.Evidence;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Collector.Capture;

/// <summary>A pcap or pcapng file read frame by frame through libpcap; each frame is lent as a span, never copied.</summary>
internal sealed class CaptureFile : IDisposable
{
    private readonly CaptureFileReaderDevice _device;

    private CaptureFile(CaptureFileReaderDevice device, string path)
    {
        _device = device;
        Path = path;
        LinkType = (LinkType)(ushort)device.LinkType;
    }

    public string Path { get; }

    public LinkType LinkType { get; }

    /// <summary>Opens a capture file; a missing or unreadable file gets a message that names it and the reason.</summary>
    public static bool TryOpen(string path, out CaptureFile? capture, out string error)
    {
        capture = null;
        if (!File.Exists(path))
        {
            error = $"{path}: no such file";
            return false;
        }

        var device = new CaptureFileReaderDevice(path);
        try
        {
            device.Open();
        }
        catch (PcapException exception)
        {
            device.Dispose();
            error = $"{path}: not a pcap or pcapng capture ({exception.Message.Trim()})";
            return false;
        }
        catch (DllNotFoundException)
        {
            device.Dispose();
            error = "libpcap is not installed (Debian: apt-get install libpcap0.8)";
            return false;
        }

        capture = new CaptureFile(device, path);
        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Reads the next frame; the span is valid until the next call. <paramref name="wireLength"/> is the frame's
    /// length on the wire, which a capture's snap length may have cut.
    /// </summary>
    public bool TryReadNext(out ReadOnlySpan<byte> frame, out DateTimeOffset timestamp, out int wireLength)
    {
        if (_device.GetNextPacket(out var capture) != GetPacketStatus.PacketRead)
        {
            frame = default;
            timestamp = default;
            wireLength = 0;
            return false;
        }

        frame = capture.Data;
        wireLength = CapturedFrames.WireLength(capture.Header, frame.Length);
        timestamp = CapturedFrames.Time(CapturedFrames.Microseconds(capture.Header.Timeval));
        return true;
    }

    public void Dispose() => _device.Dispose();
}
