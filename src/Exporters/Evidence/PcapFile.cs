using FlowCollector.Decoders.Packets;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Exporters.Evidence;

/// <summary>A classic pcap file written frame by frame through libpcap's own writer (every tool reads it).</summary>
internal sealed class PcapFile : IDisposable
{
    /// <summary>The file header libpcap writes, and each frame's record header.</summary>
    public const int FileHeaderLength = 24;
    public const int RecordHeaderLength = 16;

    private readonly CaptureFileWriterDevice _device;

    private PcapFile(CaptureFileWriterDevice device, string path, LinkType linkType, long length)
    {
        _device = device;
        Path = path;
        LinkType = linkType;
        Length = length;
    }

    public string Path { get; }

    public LinkType LinkType { get; }

    /// <summary>What the file holds once written out: its header and every frame with its record header, earlier ones included.</summary>
    public long Length { get; private set; }

    /// <summary>Frames written by this writer (not those an appended file held before).</summary>
    public long Frames { get; private set; }

    /// <summary>
    /// Creates the file, or adds to the one there when <paramref name="append"/> (an incident that reopened, or that
    /// resumed after a restart, keeps one file); the error names it and the reason.
    /// </summary>
    public static bool TryCreate(string path, LinkType linkType, int snapLength, bool append, out PcapFile? file, out string error)
    {
        file = null;
        append &= File.Exists(path) && new FileInfo(path).Length >= FileHeaderLength;
        var length = append ? new FileInfo(path).Length : FileHeaderLength;
        var device = new CaptureFileWriterDevice(path, append ? FileMode.Append : FileMode.Create);
        try
        {
            device.Open(new DeviceConfiguration { LinkLayerType = (PacketDotNet.LinkLayers)(ushort)linkType, Snaplen = snapLength });
        }
        catch (Exception exception) when (exception is PcapException or DllNotFoundException or IOException or UnauthorizedAccessException)
        {
            device.Dispose();
            error = exception is DllNotFoundException ? "libpcap is not installed (Debian: apt-get install libpcap0.8)" : $"{path}: cannot be written ({exception.Message.Trim()})";
            return false;
        }

        file = new PcapFile(device, path, linkType, length);
        error = string.Empty;
        return true;
    }

    public void Write(ReadOnlySpan<byte> frame, long unixMicroseconds, int wireLength)
    {
        var header = new PcapHeader((uint)(unixMicroseconds / 1_000_000), (uint)(unixMicroseconds % 1_000_000), (uint)Math.Max(wireLength, frame.Length), (uint)frame.Length);
        _device.Write(frame, ref header);
        Length += RecordHeaderLength + frame.Length;
        Frames++;
    }

    public void Dispose() => _device.Dispose();
}
