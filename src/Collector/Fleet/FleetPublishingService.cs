using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Fleet;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Fleet;

/// <summary>
/// Publishing to the fleet, when <c>Fleet:Nats:Url</c> is set: the publisher hears every incident change and
/// mitigation outcome, and the second pipeline hands it each closed second. Starts after mitigation and alerts, before
/// detection, so that no incident goes unheard; at stop what is queued gets a short chance to go.
/// </summary>
internal sealed class FleetPublishingService(CollectorCore core, StorageService storage, MitigationService mitigation, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    /// <summary>How many of the latest incidents are looked at for a resolved event the last run may not have sent.</summary>
    private const int ResyncIncidents = 1000;

    /// <summary>The publisher, when this node publishes.</summary>
    public FleetPublisher? Publisher { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options.Fleet;
        if (!options.Publishes)
        {
            return Task.CompletedTask;
        }

        var store = storage.Store ?? throw new InvalidOperationException("the store starts before fleet publishing");
        Publisher = new FleetPublisher(options, core.Node, BuildVersion.Text, core.Aggregator.Prefixes, id => store.ActionsOf(id), core.Options.Alerts.BaseUrl, time, loggers.CreateLogger("FlowCollector.Fleet"));
        core.Incidents.Subscribe(Publisher);
        if (mitigation.Worker is { } worker)
        {
            worker.Engine.ActionChanged += Publisher.OnAction;
        }

        Publisher.Resume(Path.Combine(core.DataDirectory, "fleet-published"), store.IncidentPage(openOnly: false, ResyncIncidents, long.MaxValue));
        Publisher.Start();
        return Task.CompletedTask;
    }

    protected override void Release()
    {
        if (Publisher is { } publisher)
        {
            publisher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
