using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Runtime;

/// <summary>Runs the collector inside the Generic Host: started before systemd is told READY, stopped on SIGTERM.</summary>
internal sealed class CollectorService(CollectorRuntime runtime) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => runtime.RunAsync(stoppingToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await runtime.DisposeAsync().ConfigureAwait(false);
    }
}
