using System.Net;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Alerts.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Alerts;

/// <summary>
/// Alerts: opens the outbox in the store's database and, when channels are configured, starts the dispatcher
/// (resuming what an earlier run left pending) and subscribes it to incidents and to mitigation's outcomes. Starts
/// after mitigation and before detection; at stop, the dispatcher routes what it was told and its senders stop
/// (what is unsent stays in the outbox for the next start).
/// </summary>
internal sealed partial class AlertService(CollectorCore core, StorageService storage, MitigationService mitigation, IHttpClientFactory http, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");

    public AlertOutbox? Outbox { get; private set; }

    public AlertDispatcher? Dispatcher { get; private set; }

    /// <summary>The HTTP client every channel uses: the configured proxy (else the environment's), a bounded connect time, the product's name.</summary>
    public static IServiceCollection AddAlertHttp(IServiceCollection services, AlertOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddHttpClient(AlertChannels.HttpClientName, client =>
        {
            client.Timeout = Timeout.InfiniteTimeSpan;
            client.DefaultRequestHeaders.UserAgent.TryParseAdd($"FlowCollector/{BuildVersion.Text}");
        }).ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
        {
            Proxy = options.Proxy.Length > 0 ? new WebProxy(options.Proxy) : null,
            UseProxy = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
        }).RemoveAllLoggers(); // The factory's loggers print request URIs, and webhook URLs (and Telegram's path) carry secrets.
        return services;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options.Alerts;
        var store = storage.Store ?? throw new InvalidOperationException("the store starts before alerts");
        if (!AlertOutbox.TryOpen(core.DatabasePath, out var outbox, out var error))
        {
            throw new StartupException(StartFailure.Unavailable, $"Storage:Path: {error}");
        }

        Outbox = outbox!;
        if (options.Channels.Count == 0)
        {
            var ended = Outbox.EndUnrouted([]);
            if (ended > 0)
            {
                LogUnsent(_logger, ended);
            }

            return Task.CompletedTask;
        }

        if (!AlertChannels.TryCreate(options, () => http.CreateClient(AlertChannels.HttpClientName), time, out var channels, out error))
        {
            throw new StartupException(StartFailure.Configuration, error);
        }

        Dispatcher = new AlertDispatcher(options, channels, Outbox, id => store.ActionsOf(id), core.Node, time, loggers.CreateLogger("FlowCollector.Alerts"));
        Dispatcher.Start();
        core.Incidents.Subscribe(Dispatcher);
        if (mitigation.Worker is { } worker)
        {
            worker.Engine.ActionChanged += Dispatcher.OnAction;
        }

        var named = string.Join(", ", channels.Select(c => $"{c.Name} ({c.Type})"));
        LogAlerts(_logger, named, Outbox.Pending);
        return Task.CompletedTask;
    }

    protected override void Release()
    {
        Dispatcher?.Dispose();
        Outbox?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "alerts to {Channels}; {Pending} deliveries pending from before")]
    private static partial void LogAlerts(ILogger logger, string channels, int pending);

    [LoggerMessage(Level = LogLevel.Warning, Message = "no alert channel is configured: {Pending} deliveries an earlier run left pending are marked failed")]
    private static partial void LogUnsent(ILogger logger, int pending);
}
