using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Hosting;

/// <summary>
/// A hosted service that holds something to give back (sockets, a store, rules in force): released once, when the
/// host stops it, or when the container disposes it after a start that failed part-way.
/// </summary>
internal abstract class ReleasingService : IHostedService, IDisposable
{
    private int _released;

    public abstract Task StartAsync(CancellationToken cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Gives back what the service holds; called once.</summary>
    protected abstract void Release();

    protected virtual void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _released, 1) == 0)
        {
            Release();
        }
    }
}
