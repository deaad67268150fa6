using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Incidents;

/// <summary>
/// The detector, resumed from what the store kept (baselines, open incidents), publishing on the incident feed that
/// the journal joins here. At stop its baselines are saved, so that the next start judges at once.
/// </summary>
internal sealed partial class DetectionService(CollectorCore core, StorageService storage, ILoggerFactory loggers) : IHostedService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");

    /// <summary>The detector, once started.</summary>
    public Detector? Detector { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var state = storage.State;
        core.Incidents.Subscribe(new IncidentLog(loggers.CreateLogger("FlowCollector.Incidents")));
        Detector = new Detector(core.Options.Detection, core.Node, core.Aggregator.Names, core.Aggregator.Prefixes, core.DetectorOutput, state, core.Aggregator.Capacities);
        LogResumed(_logger, state.Baselines.Count, state.OpenIncidents.Count, core.DatabasePath);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (Detector is not null)
        {
            storage.Store?.SaveBaselines(Detector.SnapshotBaselines());
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "detector resumed {Baselines} saved baselines and {OpenIncidents} open incidents from {Database}")]
    private static partial void LogResumed(ILogger logger, int baselines, int openIncidents, string database);
}
