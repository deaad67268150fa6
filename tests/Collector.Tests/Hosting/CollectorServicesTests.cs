using System.Net;
using System.Net.Sockets;
using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Capture;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Fleet;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Http;
using FlowCollector.Collector.Incidents;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Storage;
using FlowCollector.Collector.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Tests.Hosting;

/// <summary>The composition root: what starts in which order, and that a start and a stop leave nothing behind.</summary>
public sealed class CollectorServicesTests
{
    [Fact]
    public void AddFlowCollector_HostedServices_StartStorageFirstAndHttpLast()
    {
        using var host = CollectorHost.Build(new CollectorOptions(), TimeProvider.System);

        // The host starts them in this order and stops them in the reverse one.
        Assert.Equal(
            [typeof(StorageService), typeof(MitigationService), typeof(AlertService), typeof(FleetPublishingService), typeof(EvidenceService), typeof(DetectionService), typeof(SourcesService), typeof(MetricsService), typeof(SecondClock), typeof(HttpService)],
            host.Services.GetServices<IHostedService>().Select(service => service.GetType()));
    }

    [Fact]
    public async Task AddFleet_HostedServices_StartTheFleetAfterWhatItsIncidentsGoToAndBeforeTheDetector()
    {
        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddFleet(new CollectorOptions(), Path.GetTempPath());
        await using var provider = services.BuildServiceProvider();
        Assert.Equal(
            [typeof(StorageService), typeof(MitigationService), typeof(AlertService), typeof(FleetPublishingService), typeof(FleetService), typeof(DetectionService), typeof(HttpService)],
            provider.GetServices<IHostedService>().Select(service => service.GetType()));
    }

    [Fact]
    public async Task StartAndStop_RealComposition_OpensEveryPartThenReleasesPortsAndStore()
    {
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" }, Listeners = { Address = "127.0.0.1", NetFlowPort = CollectorProcess.FreeUdpPort() }, Http = { Listen = "127.0.0.1:0" } };
        using var host = CollectorHost.Build(options, TimeProvider.System);

        await host.Host.StartAsync();
        var storage = host.Services.GetRequiredService<StorageService>();
        var netflow = host.Services.GetRequiredService<SourcesService>().Sources.Single();
        var http = host.Services.GetRequiredService<HttpService>().LocalEndPoint!;
        Assert.NotNull(storage.Store);
        Assert.NotNull(host.Services.GetRequiredService<DetectionService>().Detector);
        Assert.Equal(("netflow", options.Listeners.NetFlowPort), (netflow.Name, netflow.UdpPort));
        using (var client = new HttpClient { BaseAddress = new Uri($"http://{http}") })
        {
            Assert.Contains("\"status\":\"ok\"", await client.GetStringAsync(new Uri("/healthz", UriKind.Relative)), StringComparison.Ordinal);
        }

        await host.Host.StopAsync();

        // The port is free for another socket, HTTP refuses, and the store is closed with everything written.
        using (var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            again.Bind(new IPEndPoint(IPAddress.Loopback, options.Listeners.NetFlowPort));
        }

        using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(async () => await refused.ConnectAsync(http));
        Assert.Throws<ObjectDisposedException>(() => storage.Store!.Flush(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Serve_HttpPortTaken_ExitsWith69AndClosesWhatStarted()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" }, Listeners = { Address = "127.0.0.1", NetFlowPort = CollectorProcess.FreeUdpPort() }, Http = { Listen = $"127.0.0.1:{((IPEndPoint)taken.LocalEndPoint!).Port}" } };
        using var host = CollectorHost.Build(options, TimeProvider.System);

        Assert.Equal(FlowCollector.Collector.Commands.RunCommand.StartError, FlowCollector.Collector.Commands.RunCommand.Serve(host.Host));
        host.Host.Dispose();

        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, options.Listeners.NetFlowPort));
    }
}
