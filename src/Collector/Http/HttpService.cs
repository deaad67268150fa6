using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Http;

/// <summary>The HTTP endpoints (the collector's or the fleet's): opened last, when everything they report on runs, and closed first.</summary>
internal sealed class HttpService(CollectorOptions options, Func<IEnumerable<Endpoint>> endpoints, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private HttpEndpointServer? _server;

    /// <summary>Where the server listens, once started (the kernel's port when 0 was asked).</summary>
    public System.Net.IPEndPoint? LocalEndPoint => _server?.LocalEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Http.Listen.Length == 0)
        {
            return Task.CompletedTask;
        }

        if (!OptionsValidator.TryParseEndpoint(options.Http.Listen, out var endpoint))
        {
            throw new StartupException(StartFailure.Configuration, $"Http:Listen: '{options.Http.Listen}' is not ADDRESS:PORT");
        }

        _server = new HttpEndpointServer(endpoints(), loggers.CreateLogger("FlowCollector.Http"), options.Http.ApiToken);
        try
        {
            _server.Start(endpoint);
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            throw new StartupException(StartFailure.Unavailable, $"Http:Listen: cannot listen on {endpoint} ({exception.Message})");
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _server, null) is { } server)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
