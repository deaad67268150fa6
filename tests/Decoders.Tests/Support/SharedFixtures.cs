using System.Buffers.Binary;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowCollector.Decoders.Packets;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Decoders.Tests.Support;

/// <summary>One row of <c>../shared/fixtures/manifest.tsv</c>.</summary>
internal sealed record FixtureEntry(string Path, string Protocol, int Datagrams, int Records, string Notes)
{
    public bool IsRaw => Path.StartsWith("raw/", StringComparison.Ordinal);

    public string Folder => System.IO.Path.GetDirectoryName(Path)!.Replace('\\', '/');

    public override string ToString() => Path;
}

/// <summary>A UDP payload found in a fixture, with the frame (or datagram) number tshark gave it.</summary>
internal sealed record FixtureDatagram(int Frame, long ReceivedMilliseconds, NetworkAddress Exporter, byte[] Payload);

/// <summary>
/// The shared fixture captures (../shared/fixtures), read in place: never copied into the repository.
/// Raw .dat payloads are split on each protocol's own length rules and given the synthetic exporter and times
/// that MANIFEST.md describes.
/// </summary>
internal static partial class SharedFixtures
{
    private static readonly NetworkAddress RawExporter = NetworkAddress.Parse("192.0.2.1");
    private static readonly Lazy<IReadOnlyList<FixtureEntry>> Entries = new(LoadManifest);

    public static string Root { get; } = Path.GetFullPath(Path.Combine(TestEnvironment.RepositoryRoot, "..", "shared", "fixtures"));

    public static bool Exists => File.Exists(Path.Combine(Root, "manifest.tsv"));

    public static IReadOnlyList<FixtureEntry> Manifest => Entries.Value;

    public static void RequirePresent() => TestEnvironment.Require(Exists, $"shared fixtures not found at {Root}");

    public static FixtureEntry Entry(string path) => Manifest.Single(e => e.Path == path);

    /// <summary>Files to decode before <paramref name="entry"/> so that its templates are known, in order.</summary>
    public static IReadOnlyList<FixtureEntry> Prerequisites(FixtureEntry entry)
    {
        var fromFiles = TemplatesFrom().Match(entry.Notes);
        if (fromFiles.Success)
        {
            return [.. fromFiles.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries).Select(name => Entry($"{entry.Folder}/{name}"))];
        }

        var group = GroupOrder().Match(entry.Notes);
        if (group.Success)
        {
            var names = group.Groups[1].Value.Split("->", StringSplitOptions.TrimEntries);
            var index = Array.IndexOf(names, System.IO.Path.GetFileName(entry.Path));
            return [.. names.Take(Math.Max(0, index)).Select(name => Entry($"{entry.Folder}/{name}"))];
        }

        return [];
    }

    public static string FullPath(FixtureEntry entry) => System.IO.Path.Combine(Root, entry.Path);

    public static string ExpectedPath(FixtureEntry entry, string suffix) => System.IO.Path.Combine(Root, "expected", entry.Path + suffix);

    /// <summary>The flow export datagrams of a fixture, in capture order.</summary>
    public static IReadOnlyList<FixtureDatagram> Datagrams(FixtureEntry entry) =>
        entry.IsRaw ? RawDatagrams(entry) : CaptureDatagrams(FullPath(entry));

    /// <summary>Every UDP payload of a capture file with its frame number (1-based, as tshark counts).</summary>
    public static IReadOnlyList<FixtureDatagram> CaptureDatagrams(string path)
    {
        var result = new List<FixtureDatagram>();
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        var linkType = (LinkType)(ushort)device.LinkType;
        var frame = 0;
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            frame++;
            var data = capture.Data;
            PacketHeaderParser.Parse(data, linkType, out var header);
            if (header.Protocol != PacketHeaderParser.ProtocolUdp || !header.HasTransport || header.IsFragment)
            {
                continue;
            }

            var time = ((long)capture.Header.Timeval.Seconds * 1000) + ((long)capture.Header.Timeval.MicroSeconds / 1000);
            result.Add(new FixtureDatagram(frame, time, header.SourceAddress, data.Slice(header.PayloadOffset, header.PayloadLength).ToArray()));
        }

        return result;
    }

    /// <summary>Expected records (tshark's decoding flattened), one JSON object each, in capture order.</summary>
    public static IReadOnlyList<JsonElement> ExpectedRecords(FixtureEntry entry)
    {
        var path = ExpectedPath(entry, ".records.jsonl");
        return File.Exists(path)
            ? [.. File.ReadLines(path).Where(line => line.Length > 0).Select(line => JsonDocument.Parse(line).RootElement.Clone())]
            : [];
    }

    /// <summary>tshark's decoding, one JSON object per datagram it dissected.</summary>
    public static IReadOnlyList<JsonElement> ExpectedDatagrams(FixtureEntry entry)
    {
        var path = ExpectedPath(entry, ".tshark.json");
        return File.Exists(path)
            ? [.. File.ReadLines(path).Where(line => line.Length > 0).Select(line => JsonDocument.Parse(line).RootElement.Clone())]
            : [];
    }

    private static List<FixtureDatagram> RawDatagrams(FixtureEntry entry)
    {
        var bytes = File.ReadAllBytes(FullPath(entry));
        var result = new List<FixtureDatagram>();
        var offset = 0;
        while (offset < bytes.Length)
        {
            var length = MessageLength(bytes.AsSpan(offset));
            result.Add(new FixtureDatagram(result.Count + 1, 1_500_000_000_000 + (result.Count * 1000L), RawExporter, bytes[offset..(offset + length)]));
            offset += length;
        }

        return result;
    }

    /// <summary>Where one export message ends in a file of concatenated messages (the rest when it cannot tell).</summary>
    private static int MessageLength(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4)
        {
            return data.Length;
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(data);
        switch (version)
        {
            case 5:
                var count = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
                var v5Length = 24 + (48 * count);
                return v5Length <= data.Length ? v5Length : data.Length;
            case 10:
                var ipfixLength = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
                return ipfixLength >= 16 && ipfixLength <= data.Length ? ipfixLength : data.Length;
            case 9:
                // No total length in v9: walk flowsets until one that starts with the next header's version.
                var offset = 20;
                while (offset + 4 <= data.Length)
                {
                    var id = BinaryPrimitives.ReadUInt16BigEndian(data[offset..]);
                    var setLength = BinaryPrimitives.ReadUInt16BigEndian(data[(offset + 2)..]);
                    if (id == 9 || setLength < 4)
                    {
                        return id == 9 ? offset : data.Length;
                    }

                    offset += setLength;
                }

                return Math.Min(offset, data.Length);
            default:
                return data.Length;
        }
    }

    private static IReadOnlyList<FixtureEntry> LoadManifest()
    {
        var lines = File.ReadAllLines(Path.Combine(Root, "manifest.tsv"));
        var header = lines[0].Split('\t');
        int Column(string name) => Array.IndexOf(header, name);
        var path = Column("path");
        var protocol = Column("protocol");
        var datagrams = Column("datagrams");
        var records = Column("flow_records");
        var notes = Column("notes");
        return [.. lines.Skip(1).Where(line => line.Length > 0).Select(line => line.Split('\t')).Select(cells => new FixtureEntry(
            cells[path],
            cells[protocol],
            int.TryParse(cells[datagrams].Split(' ')[0], out var count) ? count : 0,
            int.TryParse(cells[records].Split(' ')[0], out var recordCount) ? recordCount : 0,
            notes < cells.Length ? cells[notes] : string.Empty))];
    }

    [GeneratedRegex(@"templates for decoding come from ([^()]+?) \(decode them first\)")]
    private static partial Regex TemplatesFrom();

    [GeneratedRegex(@"group \(decode in this order\): ([^;]+)")]
    private static partial Regex GroupOrder();
}
