using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Exporters.Tests.Evidence;

/// <summary>Incident pcaps from real rings into real files, recorded in a real SQLite store, read back with libpcap.</summary>
public sealed class IncidentPcapsTests : IDisposable
{
    private const string Victim = "203.0.113.10";
    private const string Bystander = "203.0.113.20";
    private readonly DirectoryInfo _work = System.IO.Directory.CreateTempSubdirectory("flowcollector-pcaps-");
    private readonly IncidentStore _store;

    public IncidentPcapsTests()
    {
        Assert.True(IncidentStore.TryOpen(Path.Combine(_work.FullName, "flowcollector.db"), out var store, out var error), error);
        _store = store!;
    }

    private string Directory => Path.Combine(_work.FullName, "incidents");

    public void Dispose()
    {
        _store.Dispose();
        _work.Delete(recursive: true);
    }

    [Fact]
    public async Task Opened_ThenClosed_WritesTheVictimsFramesFromBeforeTheBreachAndAfter()
    {
        var ring = new FrameRing("eth1", 1024 * 1024, 1600);
        var rings = new FrameRings();
        rings.Add(ring);
        var opened = DateTimeOffset.UtcNow;
        var expected = new List<byte[]>();
        for (var i = 0; i < 20; i++)
        {
            // Before the breach: the victim's frames and a bystander's, interleaved.
            var toVictim = Udp("192.0.2.100", Victim, (ushort)(1000 + i), 200 + i);
            ring.Append(toVictim, LinkType.Ethernet, Micros(opened.AddSeconds(-5 + (i * 0.1))), toVictim.Length);
            expected.Add(toVictim);
            var other = Udp("192.0.2.101", Bystander, 53, 100);
            ring.Append(other, LinkType.Ethernet, Micros(opened.AddSeconds(-5 + (i * 0.1))), other.Length);
        }

        // Older than Capture:Ring:Seconds: left out.
        var stale = Udp("192.0.2.100", Victim, 9, 64);
        var staleRing = new FrameRing("eth2", 1024 * 1024, 256);
        staleRing.Append(stale, LinkType.Ethernet, Micros(opened.AddSeconds(-60)), stale.Length);
        rings.Add(staleRing);

        var incident = Incident(1, KeyKind.Destination, Victim, opened);
        using var pcaps = Writer(rings);
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
        for (var i = 0; i < 10; i++)
        {
            var reply = Udp(Victim, "192.0.2.100", 53, 300 + i);
            ring.Append(reply, LinkType.Ethernet, Micros(DateTimeOffset.UtcNow), reply.Length);
            expected.Add(reply);
            await Task.Delay(30, TestContext.Current.CancellationToken);
        }

        pcaps.OnIncident(IncidentEvent.Closed(incident with { ClosedAt = DateTimeOffset.UtcNow }));
        var evidence = await Finished(1);

        Assert.Equal(Path.Combine(Directory, "1.pcap"), evidence.Path);
        Assert.Null(evidence.Note);
        var frames = Read(evidence.Path!);
        Assert.Equal(expected.Count, frames.Count);
        Assert.Equal(expected.Count, evidence.Packets);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i], frames[i].Data);
        }

        Assert.True(frames[0].Time < opened, "the pcap starts before the incident opened");
        Assert.Equal(expected.Sum(f => (long)f.Length), evidence.Bytes);
        Assert.Equal(frames[0].Time, evidence.FirstAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(frames[^1].Time, evidence.LastAt!.Value, TimeSpan.FromMilliseconds(1));

        // The store serves it with the incident, as /api/incidents does.
        Assert.Equal(evidence, _store.Incidents(openOnly: false).Single(i => i.Id == 1).Pcap);
    }

    [Fact]
    public async Task Reopened_AddsToTheFileItHasAndItsCountsGoOn()
    {
        var ring = new FrameRing("eth1", 1024 * 1024, 1600);
        var rings = new FrameRings();
        rings.Add(ring);
        var opened = DateTimeOffset.UtcNow;
        var frame = Udp("192.0.2.100", Victim, 123, 300);
        for (var i = 0; i < 5; i++)
        {
            ring.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-2)), frame.Length);
        }

        var incident = Incident(6, KeyKind.Destination, Victim, opened);
        using var pcaps = Writer(rings);
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
        pcaps.OnIncident(IncidentEvent.Closed(incident));
        var first = await Finished(6);
        Assert.Equal(5, first.Packets);

        // The next wave of the same attack: the incident reopens, and its pcap goes on in the same file.
        for (var i = 0; i < 3; i++)
        {
            ring.Append(frame, LinkType.Ethernet, Micros(DateTimeOffset.UtcNow), frame.Length);
        }

        _store.SetPcap(6, first with { Note = IncidentPcaps.RecordingNote });
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident with { Reopened = 1 }, default));
        pcaps.OnIncident(IncidentEvent.Closed(incident));
        var second = await Finished(6);

        Assert.Equal(first.Path, second.Path);
        Assert.Equal(8, second.Packets);
        Assert.Equal(8, Read(second.Path!).Count);
        Assert.Equal(first.FirstAt, second.FirstAt);
        Assert.Equal(8L * frame.Length, second.Bytes);
    }

    [Fact]
    public async Task Opened_ForAPrefix_KeepsEveryFrameInsideIt()
    {
        var ring = new FrameRing("sflow", 1024 * 1024, 256);
        var rings = new FrameRings();
        rings.Add(ring);
        var opened = DateTimeOffset.UtcNow;
        foreach (var destination in new[] { "203.0.113.1", "203.0.113.77", "198.51.100.9", "203.0.113.200" })
        {
            var frame = Udp("192.0.2.100", destination, 123, 400);
            ring.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length + 4);
        }

        var incident = Incident(2, KeyKind.Prefix, "203.0.113.0/24", opened);
        using var pcaps = Writer(rings);
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
        pcaps.OnIncident(IncidentEvent.Closed(incident));
        var evidence = await Finished(2);

        // Cut to the ring's snap length; the length on the wire (sFlow's, with the FCS) stays.
        Assert.Equal(3, evidence.Packets);
        Assert.All(Read(evidence.Path!), f => Assert.Equal((256, 446), (f.Data.Length, f.WireLength)));
    }

    [Fact]
    public async Task Opened_ForAnInterface_TakesOnlyThatInterfacesRing()
    {
        var rings = new FrameRings();
        var own = new FrameRing("eth1", 1024 * 1024, 256);
        var other = new FrameRing("eth2", 1024 * 1024, 256);
        rings.Add(own);
        rings.Add(other);
        var opened = DateTimeOffset.UtcNow;
        var frame = Udp("192.0.2.100", Victim, 1, 100);
        own.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length);
        own.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length);
        other.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length);

        var incident = Incident(3, KeyKind.Interface, null, opened) with { Interface = "eth1" };
        using var pcaps = Writer(rings);
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
        pcaps.OnIncident(IncidentEvent.Closed(incident));

        Assert.Equal(2, (await Finished(3)).Packets);
    }

    [Fact]
    public async Task Opened_WithNoRing_SaysFlowsCarryNoPacketsAndWritesNoFile()
    {
        var incident = Incident(4, KeyKind.Destination, Victim, DateTimeOffset.UtcNow);
        using var pcaps = Writer(new FrameRings());
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));

        var evidence = await Eventually.Until(() => _store.PcapOf(4), "the incident's pcap note");

        Assert.Null(evidence.Path);
        Assert.Equal(0, evidence.Packets);
        Assert.Equal(IncidentPcaps.NoPacketsNote, evidence.Note);
        Assert.False(System.IO.Directory.Exists(Directory) && System.IO.Directory.EnumerateFiles(Directory).Any());
    }

    [Fact]
    public async Task Recording_ReachesMaxPackets_StopsThereAndSaysWhy()
    {
        var ring = new FrameRing("eth1", 1024 * 1024, 256);
        var rings = new FrameRings();
        rings.Add(ring);
        var opened = DateTimeOffset.UtcNow;
        for (var i = 0; i < 50; i++)
        {
            var frame = Udp("192.0.2.100", Victim, 53, 500);
            ring.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length);
        }

        var incident = Incident(5, KeyKind.Destination, Victim, opened);
        using var pcaps = Writer(rings, new IncidentPcapOptions { MaxPackets = 10 });
        Saved(incident);
        pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));

        var evidence = await Finished(5);

        Assert.Equal(10, evidence.Packets);
        Assert.Equal(10, Read(evidence.Path!).Count);
        Assert.Contains("Capture:Pcap:MaxPackets", evidence.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnforceRetention_OverTheSizeCap_DeletesTheOldestFirstAndSaysSo()
    {
        System.IO.Directory.CreateDirectory(Directory);
        for (var id = 10; id < 14; id++)
        {
            var incident = Incident(id, KeyKind.Destination, Victim, DateTimeOffset.UtcNow);
            Saved(incident);
            var path = Path.Combine(Directory, $"{id}.pcap");
            await File.WriteAllBytesAsync(path, new byte[600 * 1024], TestContext.Current.CancellationToken);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-60 + id));
            _store.SetPcap(id, new PcapEvidence(path, 100, 60_000, null, null, null));
        }

        // An old file: over the age limit, whatever the size.
        var old = Path.Combine(Directory, "9.pcap");
        Saved(Incident(9, KeyKind.Destination, Victim, DateTimeOffset.UtcNow));
        await File.WriteAllBytesAsync(old, new byte[10], TestContext.Current.CancellationToken);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-40));
        _store.SetPcap(9, new PcapEvidence(old, 1, 10, null, null, null));

        using var pcaps = Writer(new FrameRings(), retention: new PcapRetentionOptions { MaxAgeDays = 30, MaxMegabytes = 1 });
        pcaps.EnforceRetention();

        Assert.Equal(["13.pcap"], System.IO.Directory.EnumerateFiles(Directory).Select(Path.GetFileName).ToArray());
        foreach (var id in new[] { 9, 10, 11, 12 })
        {
            var evidence = _store.PcapOf(id)!;
            Assert.Null(evidence.Path);
            Assert.Equal("deleted by retention (Capture:Retention)", evidence.Note);
        }

        Assert.Equal(100, _store.PcapOf(10)!.Packets);
        Assert.NotNull(_store.PcapOf(13)!.Path);
    }

    [Fact]
    public async Task Recording_OnADiskThatFills_IsCutShortSaysSoAndTheNextIncidentIsStillRecorded()
    {
        Prerequisites.Require(Environment.UserName == "root", "mounting a small tmpfs needs root");
        var mount = System.IO.Directory.CreateDirectory(Path.Combine(_work.FullName, "small"));
        Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount.FullName);
        try
        {
            var ring = new FrameRing("eth1", 4 * 1024 * 1024, 1600);
            var rings = new FrameRings();
            rings.Add(ring);
            var opened = DateTimeOffset.UtcNow;
            for (var i = 0; i < 400; i++)
            {
                var frame = Udp("192.0.2.100", Victim, 11211, 1400);
                ring.Append(frame, LinkType.Ethernet, Micros(opened.AddSeconds(-1)), frame.Length);
            }

            var incident = Incident(20, KeyKind.Destination, Victim, opened);
            using var pcaps = new IncidentPcaps(mount.FullName, new RingOptions { Enabled = true }, new IncidentPcapOptions(), new PcapRetentionOptions { MinFreeMegabytes = 0 }, rings, _store, TimeProvider.System, NullLogger.Instance);
            Saved(incident);
            pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
            pcaps.OnIncident(IncidentEvent.Closed(incident));
            var evidence = await Finished(20);

            Assert.Contains("the disk filled", evidence.Note, StringComparison.Ordinal);
            Assert.True(new FileInfo(evidence.Path!).Length < 400 * 1400);
            Assert.Equal(1, pcaps.Failures);

            // The writer goes on: the next incident is told why it has nothing.
            var next = Incident(21, KeyKind.Destination, "203.0.113.99", opened);
            Saved(next);
            pcaps.OnIncident(new IncidentEvent(IncidentChange.Opened, next, default));
            pcaps.OnIncident(IncidentEvent.Closed(next));
            Assert.StartsWith("no frames of the victim", (await Finished(21)).Note, StringComparison.Ordinal);
        }
        finally
        {
            Run("umount", mount.FullName);
        }
    }

    private IncidentPcaps Writer(FrameRings rings, IncidentPcapOptions? caps = null, PcapRetentionOptions? retention = null) =>
        new(Directory, new RingOptions { Enabled = true }, caps ?? new IncidentPcapOptions(), retention ?? new PcapRetentionOptions { MinFreeMegabytes = 0 }, rings, _store, TimeProvider.System, NullLogger.Instance);

    private void Saved(IncidentRecord incident)
    {
        _store.Save(incident);
        Assert.True(_store.Flush(TimeSpan.FromSeconds(10)));
    }

    /// <summary>The evidence once the recording has finished (until then its note says it is recording).</summary>
    private Task<PcapEvidence> Finished(long id) =>
        Eventually.Until(() => _store.PcapOf(id) is { } evidence && evidence.Note != IncidentPcaps.RecordingNote ? evidence : null, $"incident {id}'s pcap finished");

    private static IncidentRecord Incident(long id, KeyKind kind, string? address, DateTimeOffset opened) => new()
    {
        Id = id,
        Key = $"{TrafficKey.KindName(kind)}/{address}",
        KeyKind = kind,
        Node = "edge-1",
        Address = address,
        AttackType = AttackType.UdpFlood,
        Confidence = 0.9,
        Severity = Severity.High,
        OpenedAt = opened,
        UpdatedAt = opened,
        FirstSecond = opened.ToUnixTimeSeconds(),
        PeakPps = 50_000,
        PeakBps = 1e8,
        CurrentPps = 50_000,
        CurrentBps = 1e8,
        Threshold = 1_000,
        ThresholdMetric = DetectionMetric.Pps,
    };

    private static long Micros(DateTimeOffset at) => (at - DateTimeOffset.UnixEpoch).Ticks / 10;

    /// <summary>An Ethernet frame with IPv4 and UDP between documentation addresses.</summary>
    private static byte[] Udp(string source, string destination, ushort sourcePort, int payload)
    {
        var frame = new byte[14 + 20 + 8 + payload];
        frame[12] = 0x08;
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload));
        ip[8] = 64;
        ip[9] = 17;
        IPAddress.Parse(source).GetAddressBytes().CopyTo(ip[12..]);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[20..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(ip[22..], 40000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[24..], (ushort)(8 + payload));
        return frame;
    }

    private static List<(byte[] Data, DateTimeOffset Time, int WireLength)> Read(string path)
    {
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        Assert.Equal(PacketDotNet.LinkLayers.Ethernet, device.LinkType);
        var frames = new List<(byte[], DateTimeOffset, int)>();
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            var time = DateTimeOffset.FromUnixTimeSeconds((long)capture.Header.Timeval.Seconds).AddTicks((long)capture.Header.Timeval.MicroSeconds * 10);
            frames.Add((capture.Data.ToArray(), time, (int)((PcapHeader)capture.Header).PacketLength));
        }

        return frames;
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
    }
}
