using System.Net;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Decoders.Packets;
using FlowCollector.Decoders;
using FlowCollector.Exporters.Evidence;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Opens every configured source (flow listeners, mirrored traffic, live capture, /proc/net/dev) once detection is
/// ready for what they bring, and closes them first at stop.
/// </summary>
internal sealed partial class SourcesService(CollectorCore core, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");
    private readonly List<IFlowSource> _sources = [];
    private readonly List<IPolledSource> _polled = [];

    public IReadOnlyList<IFlowSource> Sources => _sources;

    /// <summary>Sources the tick reads once a second.</summary>
    public IReadOnlyList<IPolledSource> Polled => _polled;

    /// <summary>Datagrams and frames received by every source but the counters read by the tick.</summary>
    public long Received
    {
        get
        {
            long received = 0;
            foreach (var source in _sources)
            {
                if (source.Kind != SourceKind.InterfaceCounters)
                {
                    received += source.Received;
                }
            }

            return received;
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options;
        var listen = IPAddress.Parse(options.Listeners.Address);
        var sockets = options.Listeners.SocketsPerPort == 0 ? Environment.ProcessorCount : options.Listeners.SocketsPerPort;
        var allowlist = new ExporterAllowlist(options.Listeners.AllowedExporters.Select(IpPrefix.Parse));
        var buffer = options.Listeners.ReceiveBufferBytes;
        var listenerLogger = loggers.CreateLogger("FlowCollector.Listeners");
        var mirrorLogger = loggers.CreateLogger("FlowCollector.Mirror");
        var ring = options.Capture.Ring;
        var ringBytes = ring.MegabytesPerInterface * 1024 * 1024;
        FrameRing? headers = null;
        if (ring.Enabled && options.Listeners.SFlowPort != 0)
        {
            // sFlow carries the first bytes of each sampled packet: evidence for a flow-only collector.
            headers = new FrameRing("sflow", ringBytes, ushort.MaxValue - 1);
            core.Rings.Add(headers);
        }

        var exports = new FlowExports(core.Decoder, headers);
        var aggregator = core.Aggregator;
        try
        {
            foreach (var (name, port) in new[] { ("netflow", options.Listeners.NetFlowPort), ("ipfix", options.Listeners.IpfixPort), ("sflow", options.Listeners.SFlowPort) })
            {
                if (port != 0)
                {
                    Start(new DatagramSource<FlowExports>(
                        name, source => DatagramSockets.ReusePortGroup(source, listen, port, sockets, buffer, listenerLogger), exports, "unrecognized", aggregator, allowlist, time, listenerLogger));
                }
            }

            if (options.Listeners.MirrorPort is var mirrorPort and not 0)
            {
                var mirrored = new MirroredFrames(mirrorPort == PacketHeaderParser.VxlanPort ? Encapsulation.Vxlan : Encapsulation.Tzsp);
                Start(new DatagramSource<MirroredFrames>(
                    "mirror-udp", source => DatagramSockets.Single(source, listen, mirrorPort, buffer, mirrorLogger), mirrored, "not_ip", aggregator, allowlist, time, mirrorLogger));
            }

            if (options.Listeners.Gre)
            {
                Start(new DatagramSource<MirroredFrames>(
                    "mirror-gre", source => DatagramSockets.Gre(source, buffer, mirrorLogger), new MirroredFrames(Encapsulation.None), "not_ip", aggregator, allowlist, time, mirrorLogger));
            }
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            throw new StartupException(StartFailure.Unavailable, $"Listeners: cannot open a socket ({exception.Message}); another program may hold the port, or GRE needs CAP_NET_RAW");
        }

        foreach (var name in options.Capture.Interfaces)
        {
            var frames = ring.Enabled ? new FrameRing(name, ringBytes, options.Capture.SnapLength) : null;
            if (!LiveCapture.TryOpen(name, options.Capture.Filter, options.Capture.SnapLength, options.Capture.Promiscuous, aggregator, loggers.CreateLogger("FlowCollector.Capture"), out var capture, out var error, frames))
            {
                throw new StartupException(StartFailure.Unavailable, error);
            }

            Start(capture!);
            if (frames is not null)
            {
                core.Rings.Add(frames);
            }
        }

        foreach (var name in ring.Enabled ? ring.Interfaces.Except(options.Capture.Interfaces) : [])
        {
            // A router interface keeps a ring of its own: what the incident's pcap and the breach's sample start from.
            var sample = options.Capture.Sample;
            var frames = new FrameRing(name, ringBytes, sample.SnapLength);
            if (!LiveCapture.TryOpen(name, sample.Filter, sample.SnapLength, promiscuous: false, aggregator, loggers.CreateLogger("FlowCollector.Capture"), out var capture, out var error, frames, counts: false))
            {
                // Without its ring the interface is still read from /proc/net/dev: say so, and go on.
                LogRingUnavailable(_logger, error);
                continue;
            }

            Start(capture!);
            core.Rings.Add(frames);
        }

        if (options.ProcNetDev.Mode == "on" || (options.ProcNetDev.Mode == "auto" && File.Exists(options.ProcNetDev.Path)))
        {
            var procNetDev = new ProcNetDevSource(options.ProcNetDev.Path, options.ProcNetDev.Include, options.ProcNetDev.Exclude, aggregator);
            Start(procNetDev);
            _polled.Add(procNetDev);
            LogProcNetDev(_logger, options.ProcNetDev.Path);
        }

        if (allowlist.AllowsAll && _sources.Any(source => source.Kind == SourceKind.Listener))
        {
            LogAnyExporter(_logger, options.Listeners.Address);
        }

        return Task.CompletedTask;
    }

    protected override void Release()
    {
        foreach (var source in _sources)
        {
            source.Dispose();
        }
    }

    /// <summary>Starts a source, kept first so that a failed start still closes it.</summary>
    private void Start(IFlowSource source)
    {
        _sources.Add(source);
        source.Start();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "exports are accepted from any address (listening on {Address}): UDP senders can be forged; list the routers in Listeners:AllowedExporters")]
    private static partial void LogAnyExporter(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Error}: no ring is kept for it; its counters are still read")]
    private static partial void LogRingUnavailable(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "reading interface counters from {Path} every second")]
    private static partial void LogProcNetDev(ILogger logger, string path);
}
