using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Capture;
using FlowCollector.Collector.Fleet;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Metrics;
using FlowCollector.Exporters.Mitigation;
using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Hosting;

/// <summary>
/// The counters that are read from their owners when Prometheus scrapes, not every second: exporters, every source's
/// counters (with the kernel's drops of the UDP ports, read in one pass), the store's writer, packet evidence and
/// mitigation.
/// </summary>
internal sealed class MetricsService(CollectorCore core, SourcesService sources, StorageService storage, MitigationService mitigation, AlertService alerts, EvidenceService evidence, FleetPublishingService fleet) : IHostedService
{
    private readonly List<KeyValuePair<string, long>> _events = [];
    private readonly Lock _reading = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        core.Metrics.RecordBuild(BuildVersion.Text);
        core.Metrics.Registry.AddBeforeCollectCallback(Record);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Record()
    {
        var metrics = core.Metrics;
        metrics.RecordExporters(core.Decoder.Exporters);
        var list = sources.Sources;
        var kernelDrops = KernelDrops.Read([.. list.Select(source => source.UdpPort)]);
        lock (_reading)
        {
            for (var i = 0; i < list.Count; i++)
            {
                var source = list[i];
                if (source.Kind != SourceKind.InterfaceCounters)
                {
                    metrics.RecordListener(new ListenerCounters(source.Name, source.Received, source.Rejected, source.Dropped + kernelDrops[i]));
                }

                _events.Clear();
                source.ReadEvents(_events);
                foreach (var (name, count) in _events)
                {
                    metrics.RecordSourceEvent(source.Name, name, count);
                }
            }
        }

        if (evidence.Pcaps is { } pcaps)
        {
            metrics.RecordEvidence(core.Rings.All, pcaps.Written, pcaps.Failures, pcaps.Active, evidence.Sampler?.Samples ?? 0, evidence.Sampler?.Failures ?? 0);
        }

        RecordOutputs(core, storage, alerts, mitigation, fleet);
    }

    /// <summary>
    /// What a node and the fleet service both hold and report at scrape time: the store's writer, alert deliveries,
    /// fleet publishing and mitigation.
    /// </summary>
    internal static void RecordOutputs(CollectorCore core, StorageService storage, AlertService alerts, MitigationService mitigation, FleetPublishingService fleet)
    {
        var metrics = core.Metrics;
        if (storage.Store is { } store)
        {
            metrics.RecordStore(store.Written, store.Dropped, store.Failed);
        }

        if (alerts.Dispatcher is { } dispatcher)
        {
            metrics.RecordAlerts(dispatcher.Counters, dispatcher.QueueDepth, dispatcher.DroppedChanges);
        }

        if (fleet.Publisher is { } publisher)
        {
            core.FleetMetrics.RecordPublishing(publisher);
        }

        if (mitigation.Worker is { } worker)
        {
            metrics.RecordMitigation(worker.Engine.Counters, mitigation.ExaBgp?.IsConnected, worker.Engine.ActiveActions, worker.Engine.Mode == MitigationMode.On);
        }
    }
}
