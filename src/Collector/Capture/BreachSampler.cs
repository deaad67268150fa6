using System.Diagnostics;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Collector.Sources;
using Microsoft.Extensions.Logging;
using SharpPcap;

namespace FlowCollector.Collector.Capture;

/// <summary>
/// Router mode: /proc/net/dev says how much, not what. When an interface read from it opens an incident, a short
/// capture on that interface (or the last frames of its ring, when it keeps one) is counted like any other traffic,
/// and the incident gets the sample's attack type, victims and tops. While the incident stays open its victims are
/// followed: another sample every <see cref="SampleOptions.FollowSeconds"/> adds to its evidence and gives the
/// victims' rates now (and a new heaviest victim, if the attack moves). Nothing runs while nothing breaches: each
/// incident's samples run on a thread of its own that ends when it closes, and at most
/// <see cref="SampleOptions.MaxConcurrent"/> run.
/// </summary>
internal sealed partial class BreachSampler : IIncidentObserver, IDisposable
{
    /// <summary>Memory of the ring an interface's samples are kept in when it has none: about 14,000 frames of 128 bytes.</summary>
    private const int SampleRingBytes = 2 * 1024 * 1024;

    private readonly SampleOptions _options;
    private readonly FrameRings _rings;
    private readonly Action<PacketSample> _described;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HashSet<long> _sampling = [];
    private readonly HashSet<long> _closed = [];
    private readonly Dictionary<string, FrameRing> _sampled = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly object _pause = new();
    private volatile bool _stopping;
    private long _samples;
    private long _failures;

    /// <param name="options">Capture:Sample.</param>
    /// <param name="rings">Rings router interfaces keep, taken instead of a capture when there is one.</param>
    /// <param name="described">Where a finished sample goes (to the detector, on its own thread).</param>
    /// <param name="time">The clock the ring's window is measured on.</param>
    /// <param name="logger">Where failures are told.</param>
    public BreachSampler(SampleOptions options, FrameRings rings, Action<PacketSample> described, TimeProvider time, ILogger logger)
    {
        _options = options;
        _rings = rings;
        _described = described;
        _time = time;
        _logger = logger;
    }

    /// <summary>Samples taken.</summary>
    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Samples that could not be taken (no such interface, no permission).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Whether this process may capture: CAP_NET_RAW in its effective set.</summary>
    public static bool CanCapture()
    {
        const int CapNetRaw = 13;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                    && ulong.TryParse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var effective))
                {
                    return (effective & (1UL << CapNetRaw)) != 0;
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }

    public void OnIncident(in IncidentEvent change)
    {
        var incident = change.Incident;
        if (change.Change == IncidentChange.Closed)
        {
            lock (_lock)
            {
                if (_sampling.Contains(incident.Id))
                {
                    // Its follow loop ends at its next turn.
                    _closed.Add(incident.Id);
                }
            }

            return;
        }

        if (change.Change != IncidentChange.Opened || incident.KeyKind != KeyKind.Interface || incident.Source != TrafficKey.SourceName(TrafficSource.ProcNetDev)
            || incident.Interface is not { } name || _stopping)
        {
            return;
        }

        lock (_lock)
        {
            _closed.Remove(incident.Id);
            if (_sampling.Count >= _options.MaxConcurrent || !_sampling.Add(incident.Id))
            {
                return;
            }

            // The samples' frames are evidence too: where the interface keeps no ring, they go into one of their own,
            // registered before the incident's pcap looks for rings (its writer reads the feed after this).
            if (!_sampled.ContainsKey(name) && !_rings.All.Any(r => r.Name == name))
            {
                var ring = new FrameRing(name, SampleRingBytes, _options.SnapLength);
                _sampled[name] = ring;
                _rings.Add(ring);
            }
        }

        var id = incident.Id;
        var thread = new Thread(() => Sample(id, name)) { IsBackground = true, Name = "breach-sample" };
        thread.Start();
    }

    public void Dispose()
    {
        lock (_pause)
        {
            _stopping = true;
            Monitor.PulseAll(_pause);
        }
    }

    private void Sample(long incidentId, string name)
    {
        try
        {
            var follows = false;
            while (!_stopping && !Closed(incidentId))
            {
                var own = OwnRing(name);
                var ring = _rings.All.FirstOrDefault(r => r.Name == name && !ReferenceEquals(r, own));
                var sample = ring is not null ? FromRing(incidentId, ring) : Capture(incidentId, name, own);
                if (sample is null)
                {
                    return;
                }

                Interlocked.Increment(ref _samples);
                if (!follows)
                {
                    LogSampled(_logger, incidentId, name, sample.Packets, sample.Seconds, sample.Victims.Count == 0 ? "none" : sample.Victims[0].Address);
                }

                _described(sample with { Follows = follows });
                follows = true;
                if (_options.FollowSeconds == 0 || !Pause())
                {
                    return;
                }
            }
        }
#pragma warning disable CA1031 // A sample that fails leaves the incident as it was; the collector goes on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _failures);
            LogFailed(_logger, exception, incidentId, name);
        }
        finally
        {
            lock (_lock)
            {
                _sampling.Remove(incidentId);
                _closed.Remove(incidentId);
            }
        }
    }

    private FrameRing? OwnRing(string name)
    {
        lock (_lock)
        {
            return _sampled.GetValueOrDefault(name);
        }
    }

    /// <summary>Waits until the next follow sample is due; false when the collector stops meanwhile.</summary>
    private bool Pause()
    {
        lock (_pause)
        {
            if (!_stopping)
            {
                Monitor.Wait(_pause, TimeSpan.FromSeconds(_options.FollowSeconds));
            }

            return !_stopping;
        }
    }

    private bool Closed(long incidentId)
    {
        lock (_lock)
        {
            return _closed.Contains(incidentId);
        }
    }

    /// <summary>The ring's frames of the last <see cref="SampleOptions.MaxMilliseconds"/>, up to the packet cap.</summary>
    private PacketSample FromRing(long incidentId, FrameRing ring)
    {
        var cursor = ring.Tail;
        var since = CapturedFrames.Microseconds(_time.GetUtcNow()) - (_options.MaxMilliseconds * 1000L);
        var visitor = new RingVisitor(new PacketComposition(), since, _options.MaxPackets);
        ring.Read(ref cursor, ref visitor);
        var seconds = visitor.FirstMicros is { } first ? Math.Max(0.001, (visitor.LastMicros - first) / 1e6) : _options.MaxMilliseconds / 1000.0;
        return visitor.Composition.ToSample(incidentId, seconds);
    }

    /// <summary>A capture on the interface until the packet cap or the time cap, whichever comes first.</summary>
    private PacketSample? Capture(long incidentId, string name, FrameRing? keep)
    {
        if (!LiveCapture.TryOpenDevice(name, _options.Filter, _options.SnapLength, promiscuous: false, readTimeout: 20, immediate: true, out var device, out var error))
        {
            Interlocked.Increment(ref _failures);
            LogCannotCapture(_logger, incidentId, error);
            return null;
        }

        using (device)
        {
            var composition = new PacketComposition();
            var linkType = (LinkType)(ushort)device!.LinkType;
            var started = Stopwatch.GetTimestamp();
            var limit = TimeSpan.FromMilliseconds(_options.MaxMilliseconds);
            var frames = 0;
            while (frames < _options.MaxPackets && !_stopping && Stopwatch.GetElapsedTime(started) < limit)
            {
                var status = device.GetNextPacket(out var packet);
                if (status == GetPacketStatus.PacketRead)
                {
                    frames++;
                    var wireLength = CapturedFrames.WireLength(packet.Header, packet.Data.Length);
                    composition.Add(packet.Data, linkType, wireLength);
                    keep?.Append(packet.Data, linkType, CapturedFrames.Microseconds(packet.Header.Timeval), wireLength);
                }
                else if (status == GetPacketStatus.Error)
                {
                    break;
                }
            }

            return composition.ToSample(incidentId, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "incident {Id}: sampled {Packets} packets on {Interface} in {Seconds} s, top victim {Victim}")]
    private static partial void LogSampled(ILogger logger, long id, string @interface, int packets, double seconds, string victim);

    [LoggerMessage(Level = LogLevel.Error, Message = "incident {Id}: Capture:Sample: {Error}; the incident stays unknown")]
    private static partial void LogCannotCapture(ILogger logger, long id, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "incident {Id}: the sample of {Interface} failed; the incident stays as it is")]
    private static partial void LogFailed(ILogger logger, Exception exception, long id, string @interface);

    private struct RingVisitor(PacketComposition composition, long sinceMicros, int maxPackets) : IFrameVisitor
    {
        public PacketComposition Composition { get; } = composition;

        public long? FirstMicros { get; private set; }

        public long LastMicros { get; private set; }

        public void OnFrame(ReadOnlySpan<byte> frame, LinkType linkType, long unixMicroseconds, int wireLength)
        {
            if (unixMicroseconds < sinceMicros || Composition.Packets + Composition.Skipped >= maxPackets)
            {
                return;
            }

            FirstMicros ??= unixMicroseconds;
            LastMicros = unixMicroseconds;
            Composition.Add(frame, linkType, wireLength);
        }
    }
}
