using System.Diagnostics;
using FlowCollector.Collector.Fleet;
using FlowCollector.Collector.Incidents;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Storage;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Pipeline;

/// <summary>
/// What happens to each second once it closes: the polled sources are read, the shards merged, the detector judges
/// the second, baselines are saved now and then, and the metrics and the interface rates the API serves are updated.
/// Between closes the detector may probe the second so far.
/// </summary>
internal sealed class SecondPipeline
{
    private readonly CollectorCore _core;
    private readonly SourcesService _sources;
    private readonly DetectionService _detection;
    private readonly StorageService _storage;
    private readonly FleetPublishingService _fleet;
    private readonly TimeProvider _time;
    private readonly CapacityWarnings _warnings;
    private long _lastBaselineSave;
    /// <summary>Seconds after the last flows during which the second is still probed.</summary>
    private const long RecentFlowSeconds = 60;

    private long _received;
    private long _lastFlowSecond = long.MinValue / 2;
    private volatile InterfaceRate[] _interfaces = [];
    private long _lastSecond;

    public SecondPipeline(CollectorCore core, SourcesService sources, DetectionService detection, StorageService storage, FleetPublishingService fleet, TimeProvider time, ILoggerFactory loggers)
    {
        _fleet = fleet;
        _core = core;
        _sources = sources;
        _detection = detection;
        _storage = storage;
        _time = time;
        _warnings = new CapacityWarnings(core.Options, loggers.CreateLogger("FlowCollector.Limits"));
        _lastSecond = core.Aggregator.CurrentSecond - 1;
        _lastBaselineSave = time.GetUtcNow().ToUnixTimeSeconds();
    }

    /// <summary>The last second closed.</summary>
    public long LastSecond => Interlocked.Read(ref _lastSecond);

    /// <summary>Interface rates of the last complete second.</summary>
    public IReadOnlyList<InterfaceRate> Interfaces => _interfaces;

    /// <summary>
    /// Whether flows arrived within the last minute of seconds closed (the probes are for flows, not counters): such a
    /// collector probes each second, since an exporter may send only every other second or less often.
    /// </summary>
    public bool FlowsRecently => _lastFlowSecond >= _lastSecond - RecentFlowSeconds;

    /// <summary>Whether flows arrived since the last second closed: a probe of this second can find something.</summary>
    public bool FlowsThisSecond => _sources.Received != _received;

    /// <summary>How far the last closed second is behind the clock, beyond the second it takes to close it.</summary>
    public double LagSeconds => Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0) - (LastSecond + 1));

    /// <summary>Whether a probe of the second so far can open incidents (a detector is running).</summary>
    public bool CanProbe => _detection.Detector is not null;

    /// <summary>Judges the second being counted so far, so that an attack over its threshold opens before the tick.</summary>
    public void Probe() => _detection.Detector?.Probe(_core.Aggregator.Peek(_time.GetUtcNow()));

    /// <summary>Hands the packet samples that finished to the detector (this is the detection thread).</summary>
    public void Describe()
    {
        if (!_core.Samples.HasWaiting)
        {
            return;
        }

        while (_core.Samples.TryTake(out var sample))
        {
            _detection.Detector?.Describe(sample, _time.GetUtcNow());
        }
    }

    /// <summary>Closes one second.</summary>
    public void Close(long second)
    {
        var started = Stopwatch.GetTimestamp();
        var aggregator = _core.Aggregator;
        var metrics = _core.Metrics;
        foreach (var polled in _sources.Polled)
        {
            polled.Poll(_time.GetUtcNow().ToUnixTimeMilliseconds());
        }

        var result = aggregator.Tick(second, _time.GetUtcNow());
        var detector = _detection.Detector;
        if (detector is not null)
        {
            detector.Process(result);
            if (second - _lastBaselineSave >= _core.Options.Storage.BaselineSaveSeconds)
            {
                _storage.Store?.SaveBaselines(detector.SnapshotBaselines());
                _lastBaselineSave = second;
            }
        }

        _fleet.Publisher?.OnSecond(result);
        metrics.RecordSecond(result, aggregator.Names, detector);
        if (detector is not null)
        {
            metrics.RecordIncidents(detector.OpenIncidents, result.ObservedAt);
            metrics.RecordDetection(detector);
        }

        var interfaces = new List<InterfaceRate>();
        foreach (ref readonly var sample in result.Samples)
        {
            if (sample.Key.Kind == KeyKind.Interface)
            {
                interfaces.Add(InterfaceRate.From(sample, _core.Node, aggregator.Names));
            }
        }

        _interfaces = [.. interfaces];
        Interlocked.Exchange(ref _lastSecond, second);
        var received = _sources.Received;
        if (received != _received)
        {
            _lastFlowSecond = second;
        }

        _received = received;
        _core.Decoder.Exporters.Expire(_time.GetUtcNow().ToUnixTimeMilliseconds());
        var statistics = aggregator.Statistics();
        metrics.RecordAggregation(statistics, Stopwatch.GetElapsedTime(started));
        _warnings.Report(second, statistics, _core.Decoder.Exporters, detector);
    }
}
