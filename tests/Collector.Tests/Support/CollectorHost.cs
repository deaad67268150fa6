using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>
/// The collector's own composition (AddFlowCollector) on a host of the test's, with its clock and a data directory
/// of its own that goes with it; nothing is bound to a fixed port (flow listeners and HTTP are off unless the options
/// ask for other ports than the defaults).
/// </summary>
internal sealed class CollectorHost : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("flowcollector-host-");

    private CollectorHost(CollectorOptions options, TimeProvider time)
    {
        var defaults = new CollectorOptions();
        options.Listeners.NetFlowPort = options.Listeners.NetFlowPort == defaults.Listeners.NetFlowPort ? 0 : options.Listeners.NetFlowPort;
        options.Listeners.IpfixPort = options.Listeners.IpfixPort == defaults.Listeners.IpfixPort ? 0 : options.Listeners.IpfixPort;
        options.Listeners.SFlowPort = options.Listeners.SFlowPort == defaults.Listeners.SFlowPort ? 0 : options.Listeners.SFlowPort;
        options.Http.Listen = options.Http.Listen == defaults.Http.Listen ? string.Empty : options.Http.Listen;
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(time);
        builder.Services.AddFlowCollector(options, _data.FullName);
        Host = builder.Build();
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public static CollectorHost Build(CollectorOptions options, TimeProvider time) => new(options, time);

    public void Dispose()
    {
        Host.Dispose();
        _data.Delete(recursive: true);
    }
}
