using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Evidence;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Capture;

/// <summary>
/// Packet evidence: each incident's pcap from the rings the capture sources keep, and, in router mode, the short
/// capture that names a breaching interface's attack and victims. Joins the incident feed after storage, mitigation
/// and alerts; at stop, the pcaps being written are finished.
/// </summary>
internal sealed partial class EvidenceService(CollectorCore core, StorageService storage, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector.Capture");

    public IncidentPcaps? Pcaps { get; private set; }

    public BreachSampler? Sampler { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options;
        var store = storage.Store ?? throw new InvalidOperationException("the store starts before packet evidence");
        var capture = options.Capture;
        var routerMode = options.ProcNetDev.Mode == "on" || (options.ProcNetDev.Mode == "auto" && File.Exists(options.ProcNetDev.Path));
        if (routerMode && capture.Sample.Enabled)
        {
            if (BreachSampler.CanCapture())
            {
                Sampler = new BreachSampler(capture.Sample, core.Rings, Describe, time, _logger);
                core.Incidents.Subscribe(Sampler);
            }
            else
            {
                LogNoCapture(_logger);
            }
        }

        // After the sampler: the ring it keeps an interface's samples in exists before the pcap looks for it.
        Pcaps = new IncidentPcaps(capture.Pcap.EffectiveDirectory(core.DataDirectory), capture.Ring, capture.Pcap, capture.Retention, core.Rings, store, time, _logger);
        core.Incidents.Subscribe(Pcaps);
        return Task.CompletedTask;
    }

    protected override void Release()
    {
        Sampler?.Dispose();
        Pcaps?.Dispose();
    }

    private void Describe(Detection.Incidents.PacketSample sample) => core.Samples.Post(sample);

    [LoggerMessage(Level = LogLevel.Warning, Message = "router mode: this process lacks CAP_NET_RAW, so a breaching interface cannot be sampled; its incidents name no attack type or victim (give the service AmbientCapabilities=CAP_NET_RAW, or set Capture:Sample:Enabled to false to silence this)")]
    private static partial void LogNoCapture(ILogger logger);
}
