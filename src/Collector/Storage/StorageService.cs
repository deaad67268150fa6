using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Storage;

/// <summary>
/// The incident store: opened first (everything after it may record or resume), subscribed to the incident feed
/// before any other observer so that an action's incident is always recorded first, and closed last, once
/// everything queued is on disk.
/// </summary>
internal sealed partial class StorageService(CollectorCore core, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");

    /// <summary>The store, once started.</summary>
    public IncidentStore? Store { get; private set; }

    /// <summary>What the detector resumes from: saved baselines, open incidents, the last incident id.</summary>
    public DetectorState State { get; private set; } = new();

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options.Storage;
        var retention = new StoreRetention(options.IncidentRetentionDays, options.SecondsRetentionDays, options.BaselineMaxAgeHours);
        if (!IncidentStore.TryOpen(core.DatabasePath, out var store, out var error, retention, loggers.CreateLogger("FlowCollector.Storage"), time))
        {
            throw new StartupException(error.Contains(" is damaged ", StringComparison.Ordinal) ? StartFailure.DamagedData : StartFailure.Unavailable, $"Storage:Path: {error}");
        }

        Store = store!;
        if (!Store.TryLoadDetectorState(time.GetUtcNow(), TimeSpan.FromHours(options.BaselineMaxAgeHours), out var state, out error))
        {
            throw new StartupException(StartFailure.DamagedData, $"Storage:Path: {error}");
        }

        State = state;
        if (Store.SkippedRows > 0)
        {
            LogSkippedAtStart(_logger, Store.SkippedRows, core.DatabasePath);
        }

        core.Incidents.Subscribe(Store);
        return Task.CompletedTask;
    }

    /// <summary>Everything queued is written, then the store closes.</summary>
    protected override void Release()
    {
        Store?.Flush(TimeSpan.FromSeconds(10));
        Store?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Rows} rows of {Database} could not be read back (damaged JSON) and were skipped")]
    private static partial void LogSkippedAtStart(ILogger logger, long rows, string database);
}
