using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Incidents;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Fleet;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Fleet;

/// <summary>
/// <c>flowcollector fleet</c>'s own part: PostgreSQL opened and migrated, the durable consumers started (retrying
/// while NATS is unreachable), and a clock that, each second, releases the sums of the second that closed
/// <see cref="FleetOptions.LateSeconds"/> ago to the same detector a node runs. Incidents it opens are the fleet's
/// (node <c>fleet</c>): they go to the store, alerts and mitigation as a node's do, and to NATS like a node's
/// events, whence the consumer files them in PostgreSQL beside the nodes'.
/// </summary>
internal sealed partial class FleetService : ReleasingService, IIncidentObserver
{
    private readonly CollectorCore _core;
    private readonly DetectionService _detection;
    private readonly StorageService _storage;
    private readonly MitigationService _mitigation;
    private readonly AlertService _alerts;
    private readonly FleetPublishingService _publishing;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _clock;
    private Task? _connecting;
    private long _opened;

    public FleetService(CollectorCore core, DetectionService detection, StorageService storage, MitigationService mitigation, AlertService alerts, FleetPublishingService publishing, TimeProvider time, ILoggerFactory loggers)
    {
        _core = core;
        _detection = detection;
        _storage = storage;
        _mitigation = mitigation;
        _alerts = alerts;
        _publishing = publishing;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("FlowCollector.Fleet");
        Sums = new FleetSums(core.Aggregator.Prefixes, core.Options.Aggregation.MaxDestinations, time.GetUtcNow().ToUnixTimeSeconds() - 1 - core.Options.Fleet.LateSeconds);
        Explained = new ExplainedKeys(core.Aggregator.Prefixes);

        // The detector's incidents get their contributing nodes before anything else hears of them.
        core.DetectorOutput = new ContributorNaming(Sums, core.Incidents);
        core.Incidents.Subscribe(this);
    }

    public FleetSums Sums { get; }

    public ExplainedKeys Explained { get; }

    public FleetStore? Store { get; private set; }

    public FleetConsumer? Consumer { get; private set; }

    /// <summary>The last second judged.</summary>
    public long LastSecond => Sums.ReleasedThrough;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _core.Options.Fleet;
        try
        {
            Store = await FleetStore.OpenAsync(options.Postgres.ConnectionString, cancellationToken).ConfigureAwait(false);
            foreach (var (node, id, kind, address) in await Store.OpenNodeIncidentsAsync(FleetNames.Node, cancellationToken).ConfigureAwait(false))
            {
                Explained.Update(node, id, kind, address, open: true);
            }
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            throw new StartupException(StartFailure.Unavailable, $"Fleet:Postgres:ConnectionString: PostgreSQL cannot be used ({exception.Message})");
        }

        Consumer = new FleetConsumer(options, Store, Sums, Explained, _time, _loggers.CreateLogger("FlowCollector.Fleet"));
        _connecting = Task.Run(() => ConnectAsync(_stopping.Token), CancellationToken.None);
        _core.Metrics.RecordBuild(BuildVersion.Text);
        _core.Metrics.Registry.AddBeforeCollectCallback(RecordMetrics);
        _clock = Task.Run(() => TickAsync(_stopping.Token), CancellationToken.None);
        LogStarted(_logger, options.Nats.DisplayUrl, _core.Aggregator.Prefixes.Count, options.LateSeconds);
    }

    /// <summary>Starts the consumers, retrying while NATS (or its JetStream) does not answer.</summary>
    private async Task ConnectAsync(CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Consumer!.StartAsync(stopping).ConfigureAwait(false);
                LogConsuming(_logger, _core.Options.Fleet.Nats.DisplayUrl);
                return;
            }
            catch (Exception exception) when (exception is NATS.Client.Core.NatsException or OperationCanceledException or TimeoutException or IOException)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                if (failures++ % 30 == 0)
                {
                    LogUnreachable(_logger, _core.Options.Fleet.Nats.DisplayUrl, exception.Message);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), _time, stopping).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Each second, a little after it starts: the second that closed LateSeconds ago is judged.</summary>
    private async Task TickAsync(CancellationToken stopping)
    {
        var late = _core.Options.Fleet.LateSeconds;
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            var next = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1).AddMilliseconds(100);
            try
            {
                await Task.Delay(next - now, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var due = _time.GetUtcNow().ToUnixTimeSeconds() - 1 - late;
            for (var second = Math.Max(Sums.ReleasedThrough + 1, due - 5); second <= due; second++)
            {
                Judge(second);
            }
        }
    }

    private void Judge(long second)
    {
        if (_detection.Detector is not { } detector)
        {
            return;
        }

        try
        {
            Explained.Snapshot();
            var sums = Sums.Release(second, _time.GetUtcNow(), Explained.Explains);
            detector.Process(sums);
            var metrics = _core.Metrics;
            metrics.RecordIncidents(detector.OpenIncidents, sums.ObservedAt);
            metrics.RecordDetection(detector);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // One bad second is logged and skipped; the fleet goes on judging the next.
            LogJudgeFailed(_logger, second, exception);
        }
    }

    /// <summary>Counts the fleet incidents opened (the feed's first observer after the store).</summary>
    public void OnIncident(in IncidentEvent change)
    {
        if (change.Change == IncidentChange.Opened)
        {
            Interlocked.Increment(ref _opened);
        }
    }

    private void RecordMetrics()
    {
        if (Consumer is { } consumer)
        {
            _core.FleetMetrics.RecordConsuming(consumer.Counters(Interlocked.Read(ref _opened)));
        }

        MetricsService.RecordOutputs(_core, _storage, _alerts, _mitigation, _publishing);
    }

    protected override void Release()
    {
        _stopping.Cancel();
        _clock?.ContinueWith(_ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(5));
        _connecting?.ContinueWith(_ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(5));
        Consumer?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        Store?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "fleet: consuming from NATS at {Url}, judging the sums of {Prefixes} monitored prefixes {Late} s after each second")]
    private static partial void LogStarted(ILogger logger, string url, int prefixes, int late);

    [LoggerMessage(Level = LogLevel.Information, Message = "fleet: durable consumers on NATS at {Url} started")]
    private static partial void LogConsuming(ILogger logger, string url);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: NATS at {Url} unreachable ({Reason}); retrying every second")]
    private static partial void LogUnreachable(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "fleet: judging second {Second} failed")]
    private static partial void LogJudgeFailed(ILogger logger, long second, Exception exception);
}
