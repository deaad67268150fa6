using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Exporters.Evidence;

/// <summary>
/// Writes each incident's packets to <c>&lt;id&gt;.pcap</c>: when it opens, the frames of its victim that the rings
/// still hold (from before the breach), then the victim's frames as they arrive, until it closes or a cap is
/// reached. A destination's frames are those to or from it, a prefix's those to or from inside it, an interface's
/// every frame of that interface's ring (its victims' alone once a packet sample named them). What was written, or
/// why nothing was, goes to the store with the incident. Works on a thread of its own, started with the first
/// incident; a failing disk stops a recording, never detection.
/// </summary>
public sealed partial class IncidentPcaps : IIncidentObserver, IDisposable
{
    /// <summary>Said of an incident when no ring exists: flow exports carry no packets, and nothing else was kept.</summary>
    public const string NoPacketsNote = "no packets: NetFlow and IPFIX carry none, and no ring is kept (Capture:Ring keeps frames of SPAN ports and sFlow's sampled headers)";

    /// <summary>Why a recording ended when the collector stopped with the incident still open (its file is complete).</summary>
    private const string StoppedWithCollector = "the collector stopped";

    /// <summary>Said of an incident's pcap while frames are still being added to it.</summary>
    public const string RecordingNote = "recording";

    private static readonly TimeSpan DrainInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan StoreInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromSeconds(60);

    /// <summary>How long a router interface's pcap waits for the sample that names its victims (it takes 300 ms by default).</summary>
    private static readonly TimeSpan DescriptionWait = TimeSpan.FromSeconds(3);

    private readonly string _directory;
    private readonly RingOptions _ring;
    private readonly IncidentPcapOptions _caps;
    private readonly PcapRetentionOptions _retention;
    private readonly FrameRings _rings;
    private readonly IncidentStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<IncidentEvent> _changes = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Dictionary<long, Recording> _recordings = [];
    private readonly Lock _startLock = new();
    private Thread? _thread;
    private volatile bool _stopping;
    private DateTimeOffset _nextRetention;
    private long _written;
    private long _failures;
    private int _active;

    public IncidentPcaps(string directory, RingOptions ring, IncidentPcapOptions caps, PcapRetentionOptions retention, FrameRings rings, IncidentStore store, TimeProvider time, ILogger logger)
    {
        _directory = directory;
        _ring = ring;
        _caps = caps;
        _retention = retention;
        _rings = rings;
        _store = store;
        _time = time;
        _logger = logger;
    }

    public string Directory => _directory;

    /// <summary>Frames written to incident pcaps.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Recordings stopped by a failure (a full disk, a file that cannot be written).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Recordings in progress.</summary>
    public int Active => Volatile.Read(ref _active);

    public void OnIncident(in IncidentEvent change)
    {
        if (change.Change is IncidentChange.Updated or IncidentChange.Escalated || change.Incident.KeyKind == KeyKind.Node || _stopping)
        {
            return;
        }

        _changes.Enqueue(change);
        EnsureStarted();
        _wake.Set();
    }

    /// <summary>Finishes every recording (their files stay, complete) and stops the thread.</summary>
    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _thread?.Join(TimeSpan.FromSeconds(10));
        _wake.Dispose();
    }

    /// <summary>
    /// Where an incident's pcap is, for the API and the command line to hand out; false with the reason
    /// ("incident ID has no pcap: ...") when nothing was recorded, there is no file, or the file has gone.
    /// </summary>
    public static bool TryLocate(IncidentStore store, long incidentId, out PcapEvidence? pcap, out string path, out string reason)
    {
        ArgumentNullException.ThrowIfNull(store);
        pcap = store.PcapOf(incidentId);
        if (pcap?.Path is { } kept && File.Exists(kept))
        {
            path = kept;
            reason = string.Empty;
            return true;
        }

        path = string.Empty;
        reason = string.Create(CultureInfo.InvariantCulture, $"incident {incidentId} has no pcap: {(pcap is null ? "nothing was recorded of it" : pcap.Note ?? $"{pcap.Path} no longer exists")}");
        return false;
    }

    /// <summary>Applies retention now (also done once a minute while recording); for tests and start-up.</summary>
    public void EnforceRetention()
    {
        var inUse = _recordings.Values.Select(r => r.File?.Path).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var (id, path) in PcapRetention.Enforce(_directory, _retention, _time.GetUtcNow(), inUse))
        {
            LogRetained(_logger, path);
            TryStore(id, (_store.PcapOf(id) ?? new PcapEvidence(null, 0, 0, null, null, null)) with { Path = null, Note = "deleted by retention (Capture:Retention)" });
        }
    }

    private void EnsureStarted()
    {
        if (_thread is not null)
        {
            return;
        }

        lock (_startLock)
        {
            if (_thread is null)
            {
                var thread = new Thread(Run) { IsBackground = true, Name = "incident-pcaps" };
                thread.Start();
                _thread = thread;
            }
        }
    }

    private void Run()
    {
        while (true)
        {
            var stopping = _stopping;
#pragma warning disable CA1031 // The evidence writer reports and goes on: nothing it meets may stop the collector.
            try
            {
                Step(stopping);
            }
            catch (Exception exception)
            {
                LogFailed(_logger, exception);
            }
#pragma warning restore CA1031

            if (stopping)
            {
                return;
            }

            _wake.WaitOne(DrainInterval);
        }
    }

    private void Step(bool stopping)
    {
        var now = _time.GetUtcNow();
        while (_changes.TryDequeue(out var change))
        {
            Handle(change);
        }

        foreach (var recording in _recordings.Values.ToList())
        {
            Drain(recording, now);
            if (stopping && recording.StopReason is null)
            {
                recording.StopReason = StoppedWithCollector;
            }

            if (recording.Closing || recording.StopReason is not null)
            {
                Finish(recording);
            }
            else if (now >= recording.NextStore && recording.File is not null)
            {
                TryStore(recording.Id, recording.Evidence(RecordingNote));
                recording.NextStore = now + StoreInterval;
            }
        }

        Volatile.Write(ref _active, _recordings.Count);
        if (now >= _nextRetention)
        {
            _nextRetention = now + RetentionInterval;
            EnforceRetention();
        }
    }

    private void Handle(in IncidentEvent change)
    {
        var incident = change.Incident;
        _recordings.TryGetValue(incident.Id, out var recording);
        switch (change.Change)
        {
            case IncidentChange.Opened when recording is null:
                var rings = RingsFor(incident);
                if (rings.Count == 0)
                {
                    TryStore(incident.Id, new PcapEvidence(null, 0, 0, null, null, _rings.All.Count == 0 ? NoPacketsNote : $"no ring holds frames of {TrafficKey.KindName(incident.KeyKind)} {incident.Interface ?? incident.Address}"));
                    return;
                }

                // The frames from before the breach that the ring still holds, back to Capture:Ring:Seconds.
                var since = incident.OpenedAt.AddSeconds(-_ring.Seconds);
                // An incident that reopened (or resumed after a restart) adds to the file it has, and its counts go on.
                var previous = _store.PcapOf(incident.Id) is { Path: { } kept } earlier && File.Exists(kept) ? earlier : null;
                var sinceMicros = CapturedFrames.Microseconds(since);
                if (previous?.LastAt is { } last)
                {
                    // What the file holds already is not written twice.
                    sinceMicros = Math.Max(sinceMicros, CapturedFrames.Microseconds(last) + 1);
                }

                _recordings[incident.Id] = new Recording(incident, VictimFilter.Of(incident), [.. rings.Select(r => new RingCursor(r, r.Tail))], sinceMicros, previous)
                {
                    // A router interface's victims come with its packet sample, a moment later: its frames wait for
                    // them (the ring keeps them meanwhile), so that the pcap holds the victims' alone.
                    HoldUntil = incident.Source == TrafficKey.SourceName(TrafficSource.ProcNetDev) && incident.Victims.Count == 0 ? _time.GetUtcNow() + DescriptionWait : DateTimeOffset.MinValue,
                };
                break;
            case IncidentChange.Described when recording is not null:
                recording.Filter = VictimFilter.Of(incident);
                recording.HoldUntil = DateTimeOffset.MinValue;
                break;
            case IncidentChange.Closed when recording is not null:
                recording.Closing = true;
                break;
        }
    }

    /// <summary>Every ring for a destination or prefix; the interface's own ring for an interface.</summary>
    private List<FrameRing> RingsFor(IncidentRecord incident) => incident.KeyKind == KeyKind.Interface
        ? [.. _rings.All.Where(r => r.Name == incident.Interface)]
        : [.. _rings.All];

    /// <summary>Copies the recording's new frames out of its rings, then writes them, within the caps.</summary>
    private void Drain(Recording recording, DateTimeOffset now)
    {
        if (recording.StopReason is not null || (now < recording.HoldUntil && !recording.Closing))
        {
            return;
        }

        var collect = new Collect(recording);
        foreach (var source in recording.Sources)
        {
            recording.MissedBytes += source.Ring.Read(ref source.Cursor, ref collect);
        }

        if (recording.Pending.WrittenCount > 0 && FreeMegabytes() is { } free && free < _retention.MinFreeMegabytes)
        {
            recording.StopReason = $"stopped: the disk has {free} MiB free, under Capture:Retention:MinFreeMegabytes";
            Interlocked.Increment(ref _failures);
        }
        else
        {
            Write(recording);
        }

        recording.Pending.ResetWrittenCount();
        if (recording.StopReason is null && now - recording.Incident.OpenedAt >= TimeSpan.FromSeconds(_caps.MaxSeconds))
        {
            recording.StopReason = $"stopped after Capture:Pcap:MaxSeconds ({_caps.MaxSeconds})";
        }
    }

    private void Write(Recording recording)
    {
        var pending = recording.Pending.WrittenSpan;
        var maxBytes = (long)_caps.MaxMegabytes * 1024 * 1024;
        while (pending.Length >= Collect.HeaderLength && recording.StopReason is null)
        {
            var micros = BinaryPrimitives.ReadInt64LittleEndian(pending);
            var wire = BinaryPrimitives.ReadInt32LittleEndian(pending[8..]);
            var captured = BinaryPrimitives.ReadUInt16LittleEndian(pending[12..]);
            var linkType = (LinkType)BinaryPrimitives.ReadUInt16LittleEndian(pending[14..]);
            var frame = pending.Slice(Collect.HeaderLength, captured);
            pending = pending[(Collect.HeaderLength + captured)..];
            if (recording.File is null)
            {
                System.IO.Directory.CreateDirectory(_directory);
                var path = Path.Combine(_directory, recording.Id.ToString(CultureInfo.InvariantCulture) + ".pcap");
                var snap = recording.Sources.Max(s => s.Ring.SnapLength);
                if (!PcapFile.TryCreate(path, linkType, snap, append: recording.Previous is not null, out var file, out var error))
                {
                    recording.StopReason = "stopped: " + error;
                    Interlocked.Increment(ref _failures);
                    LogWriteFailed(_logger, recording.Id, error);
                    return;
                }

                recording.File = file!;
                recording.NextStore = DateTimeOffset.MinValue;
            }

            var output = recording.File;
            if (linkType != output.LinkType)
            {
                // A classic pcap has one link type; sFlow agents may send Ethernet and bare IP headers alike.
                recording.OtherLinkType++;
                continue;
            }

            output.Write(frame, micros, wire);
            recording.FirstMicros ??= micros;
            recording.LastMicros = micros;
            recording.Bytes += wire;
            Interlocked.Increment(ref _written);
            if (recording.Packets >= _caps.MaxPackets)
            {
                recording.StopReason = $"stopped at Capture:Pcap:MaxPackets ({_caps.MaxPackets})";
            }
            else if (output.Length >= maxBytes)
            {
                recording.StopReason = $"stopped at Capture:Pcap:MaxMegabytes ({_caps.MaxMegabytes})";
            }
        }
    }

    private void Finish(Recording recording)
    {
        _recordings.Remove(recording.Id);
        string? note = null;
        if (recording.File is { } file)
        {
            file.Dispose();
            var written = new FileInfo(file.Path) is { Exists: true } info ? info.Length : 0;
            if (written < file.Length)
            {
                // libpcap buffers its writes and reports no error: a short file is how a full disk shows.
                note = $"incomplete: the disk filled, {written} of {file.Length} bytes were written";
                Interlocked.Increment(ref _failures);
                LogDiskFull(_logger, recording.Id, file.Path);
            }
        }
        else if (recording.Previous is null && (recording.StopReason is null || recording.StopReason == StoppedWithCollector))
        {
            note = $"no frames of the victim were captured in {string.Join(", ", recording.Sources.Select(s => s.Ring.Name))}";
        }

        var notes = new[] { note, recording.StopReason, recording.MissedBytes > 0 ? $"{recording.MissedBytes} bytes of frames were overwritten in the ring before they were read" : null,
            recording.OtherLinkType > 0 ? $"{recording.OtherLinkType} frames of another link type were left out" : null };
        TryStore(recording.Id, recording.Evidence(string.Join("; ", notes.OfType<string>()) is { Length: > 0 } joined ? joined : null));
    }

    private long? FreeMegabytes()
    {
        try
        {
            System.IO.Directory.CreateDirectory(_directory);
            return new DriveInfo(_directory).AvailableFreeSpace / (1024 * 1024);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private void TryStore(long incidentId, PcapEvidence evidence)
    {
        try
        {
            _store.SetPcap(incidentId, evidence);
        }
        catch (Exception exception) when (exception is Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
        {
            LogStoreFailed(_logger, incidentId, exception.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "incident pcaps: the writer failed; recording goes on with the next incident")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "incident {Id}: cannot write its pcap ({Error}); detection goes on")]
    private static partial void LogWriteFailed(ILogger logger, long id, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "incident {Id}: the disk filled while writing {Path}; the file is cut short, detection goes on")]
    private static partial void LogDiskFull(ILogger logger, long id, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "incident {Id}: cannot record its pcap in the store ({Error})")]
    private static partial void LogStoreFailed(ILogger logger, long id, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "incident pcaps: {Path} deleted by retention")]
    private static partial void LogRetained(ILogger logger, string path);

    /// <summary>A ring and how far a recording has read it.</summary>
    private sealed class RingCursor(FrameRing ring, long cursor)
    {
        public FrameRing Ring { get; } = ring;

        public long Cursor = cursor;
    }

    /// <summary>Which frames belong to an incident: to or from its addresses, or inside its prefix, or all of them.</summary>
    private sealed class VictimFilter
    {
        private readonly NetworkAddress[] _addresses;
        private readonly IpPrefix? _prefix;

        private VictimFilter(NetworkAddress[] addresses, IpPrefix? prefix)
        {
            _addresses = addresses;
            _prefix = prefix;
        }

        public static VictimFilter Of(IncidentRecord incident)
        {
            if (incident.KeyKind == KeyKind.Prefix && IpPrefix.TryParse(incident.Address, out var prefix, out _))
            {
                return new VictimFilter([], prefix);
            }

            var addresses = incident.KeyKind == KeyKind.Interface
                ? incident.Victims.Select(v => v.Address)
                : incident.Address is { } address ? [address] : [];
            return new VictimFilter([.. addresses.Select(a => NetworkAddress.TryParse(a, out var parsed) ? parsed : NetworkAddress.None).Where(a => a != NetworkAddress.None)], null);
        }

        public bool Matches(ReadOnlySpan<byte> frame, LinkType linkType, int wireLength)
        {
            if (_addresses.Length == 0 && _prefix is null)
            {
                return true;
            }

            if (!PacketFlows.TryDecodeMirrored(frame, linkType, wireLength, 0, out var flow) || !flow.HasAddresses)
            {
                return false;
            }

            if (_prefix is { } prefix)
            {
                return prefix.Contains(flow.DestinationAddress) || prefix.Contains(flow.SourceAddress);
            }

            foreach (var address in _addresses)
            {
                if (address == flow.DestinationAddress || address == flow.SourceAddress)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private sealed class Recording(IncidentRecord incident, VictimFilter filter, List<RingCursor> sources, long sinceMicros, PcapEvidence? previous)
    {
        public long Id { get; } = incident.Id;

        public IncidentRecord Incident { get; } = incident;

        public VictimFilter Filter { get; set; } = filter;

        public List<RingCursor> Sources { get; } = sources;

        public long SinceMicros { get; } = sinceMicros;

        /// <summary>What the incident's file held before this recording (it reopened, or resumed after a restart).</summary>
        public PcapEvidence? Previous { get; } = previous;

        public long Packets => (Previous?.Packets ?? 0) + (File?.Frames ?? 0);

        public ArrayBufferWriter<byte> Pending { get; } = new(64 * 1024);

        public PcapFile? File { get; set; }

        public long Bytes { get; set; } = previous?.Bytes ?? 0;

        public long? FirstMicros { get; set; } = previous?.FirstAt is { } first ? CapturedFrames.Microseconds(first) : null;

        public long LastMicros { get; set; } = previous?.LastAt is { } last ? CapturedFrames.Microseconds(last) : 0;

        public long MissedBytes { get; set; }

        public long OtherLinkType { get; set; }

        public bool Closing { get; set; }

        /// <summary>Until when its frames wait for the victims a packet sample will name.</summary>
        public DateTimeOffset HoldUntil { get; set; }

        public string? StopReason { get; set; }

        public DateTimeOffset NextStore { get; set; }

        public PcapEvidence Evidence(string? note) => new(
            File?.Path ?? Previous?.Path,
            Packets,
            Bytes,
            FirstMicros is { } first ? CapturedFrames.Time(first) : null,
            FirstMicros is null ? null : CapturedFrames.Time(LastMicros),
            note);
    }

    /// <summary>Copies a recording's frames out of a ring (under its lock) into the recording's pending buffer.</summary>
    private readonly struct Collect(Recording recording) : IFrameVisitor
    {
        public const int HeaderLength = 16;

        public void OnFrame(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength)
        {
            if (unixMicroseconds < recording.SinceMicros || !recording.Filter.Matches(frame, linkType, wireLength))
            {
                return;
            }

            var entry = recording.Pending.GetSpan(HeaderLength + frame.Length);
            BinaryPrimitives.WriteInt64LittleEndian(entry, unixMicroseconds);
            BinaryPrimitives.WriteInt32LittleEndian(entry[8..], wireLength);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[12..], (ushort)frame.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[14..], (ushort)linkType);
            frame.CopyTo(entry[HeaderLength..]);
            recording.Pending.Advance(HeaderLength + frame.Length);
        }
    }
}
