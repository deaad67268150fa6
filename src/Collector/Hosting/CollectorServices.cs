using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Capture;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Fleet;
using FlowCollector.Collector.Http;
using FlowCollector.Collector.Incidents;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Hosting;

/// <summary>
/// The one composition root. The host starts hosted services in the order they are registered here and stops them in
/// the reverse order, so the order is the collector's start-up and shutdown:
/// storage, mitigation, alerts, fleet publishing, evidence, detection, sources, metrics, the second clock, HTTP to start;
/// HTTP, the clock, metrics, sources, detection (baselines saved), evidence (pcaps finished), fleet publishing (the queue
/// given a moment), alerts (unsent kept in
/// the outbox), mitigation (withdrawn), storage (flushed) to stop.
/// </summary>
internal static class CollectorServices
{
    /// <summary>
    /// Everything <c>flowcollector fleet</c> is: the store, mitigation, alerts and the publishing of its own incidents
    /// as a node's, then the fleet (PostgreSQL, the consumers, the sums), the detector, and HTTP.
    /// </summary>
    public static IServiceCollection AddFleet(this IServiceCollection services, CollectorOptions options, string dataDirectory)
    {
        services.AddSingleton(options);
        services.AddSingleton(services => new CollectorCore(options, dataDirectory, services.GetRequiredService<TimeProvider>()));
        services
            .AddStorage()
            .AddMitigation()
            .AddAlerts(options)
            .AddFleetPublishing()
            .AddHostedSingleton<FleetService>()
            .AddDetection();
        services.AddSingleton<FleetEndpoints>();
        return services.AddHttpService(provider => provider.GetRequiredService<FleetEndpoints>().All());
    }

    /// <summary>Everything <c>flowcollector run</c> is, on the given options and data directory.</summary>
    public static IServiceCollection AddFlowCollector(this IServiceCollection services, CollectorOptions options, string dataDirectory)
    {
        services.AddSingleton(options);
        services.AddSingleton(services => new CollectorCore(options, dataDirectory, services.GetRequiredService<TimeProvider>()));
        return services
            .AddStorage()
            .AddMitigation()
            .AddAlerts(options)
            .AddFleetPublishing()
            .AddEvidence()
            .AddDetection()
            .AddSources()
            .AddCollectorMetrics()
            .AddSecondClock()
            .AddHttpEndpoints();
    }

    /// <summary>The incident store: first to start, last to stop.</summary>
    public static IServiceCollection AddStorage(this IServiceCollection services) => services.AddHostedSingleton<StorageService>();

    /// <summary>Mitigation: reconciles what an earlier run left before any incident arrives; withdraws at stop.</summary>
    public static IServiceCollection AddMitigation(this IServiceCollection services) => services.AddHostedSingleton<MitigationService>();

    /// <summary>Alerts: the outbox resumed, the channels told of incidents and of mitigation's outcomes.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services, CollectorOptions options)
    {
        AlertService.AddAlertHttp(services, options.Alerts);
        return services.AddHostedSingleton<AlertService>();
    }

    /// <summary>Incident events and per-second summaries to NATS JetStream, when Fleet:Nats:Url is set.</summary>
    public static IServiceCollection AddFleetPublishing(this IServiceCollection services) => services.AddHostedSingleton<FleetPublishingService>();

    /// <summary>Packet evidence: incident pcaps from the rings, and router mode's sample of a breaching interface.</summary>
    public static IServiceCollection AddEvidence(this IServiceCollection services) => services.AddHostedSingleton<EvidenceService>();

    /// <summary>The detector, resumed from the store; its baselines saved at stop.</summary>
    public static IServiceCollection AddDetection(this IServiceCollection services) => services.AddHostedSingleton<DetectionService>();

    /// <summary>Flow listeners, mirrored traffic, live capture and /proc/net/dev.</summary>
    public static IServiceCollection AddSources(this IServiceCollection services) => services.AddHostedSingleton<SourcesService>();

    /// <summary>Counters read at scrape time.</summary>
    public static IServiceCollection AddCollectorMetrics(this IServiceCollection services) => services.AddHostedSingleton<MetricsService>();

    /// <summary>The pipeline each closed second goes through, and the clock that closes them.</summary>
    public static IServiceCollection AddSecondClock(this IServiceCollection services)
    {
        services.AddSingleton<SecondPipeline>();
        services.AddSingleton<CollectorHealth>();
        return services.AddHostedSingleton<SecondClock>();
    }

    /// <summary>/metrics, /healthz and the API.</summary>
    public static IServiceCollection AddHttpEndpoints(this IServiceCollection services)
    {
        services.AddSingleton<CollectorEndpoints>();
        return services.AddHttpService(provider => provider.GetRequiredService<CollectorEndpoints>().All());
    }

    /// <summary>The HTTP server on Http:Listen, serving the endpoints <paramref name="endpoints"/> gives once it starts.</summary>
    private static IServiceCollection AddHttpService(this IServiceCollection services, Func<IServiceProvider, IEnumerable<Endpoint>> endpoints)
    {
        services.AddSingleton(provider => new HttpService(provider.GetRequiredService<CollectorOptions>(), () => endpoints(provider), provider.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        return services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<HttpService>());
    }

    /// <summary>A hosted service that other parts also depend on: one instance, started in registration order.</summary>
    internal static IServiceCollection AddHostedSingleton<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] TService>(this IServiceCollection services)
        where TService : class, IHostedService
    {
        services.AddSingleton<TService>();
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<TService>());
        return services;
    }
}
