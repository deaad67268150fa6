using FlowCollector.Decoders;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Captures mirrored traffic on an interface through libpcap (SPAN port, or the destination of ERSPAN/GRE/TZSP
/// sessions), with an optional BPF filter applied in the kernel. Each frame is read in place (never copied) and
/// becomes a one-packet record: of the tunnel's sender when it arrived in one, else of this interface.
/// </summary>
internal sealed partial class LiveCapture : IFlowSource
{
    private readonly LibPcapLiveDevice _device;
    private readonly RateAggregator _aggregator;
    private readonly uint _interfaceId;
    private readonly ILogger _logger;
    private Thread? _thread;
    private long _frames;
    private long _notIp;
    private volatile bool _stopping;

    private LiveCapture(LibPcapLiveDevice device, RateAggregator aggregator, ILogger logger)
    {
        _device = device;
        _aggregator = aggregator;
        _logger = logger;
        Interface = device.Name;
        _interfaceId = aggregator.Names.Id(device.Name);
    }

    public string Interface { get; }

    public string Name => "capture-" + Interface;

    public SourceKind Kind => SourceKind.Capture;

    public int UdpPort => 0;

    /// <summary>Frames read.</summary>
    public long Received => Interlocked.Read(ref _frames);

    public long Rejected => 0;

    public void ReadEvents(ICollection<KeyValuePair<string, long>> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        events.Add(new("not_ip", Interlocked.Read(ref _notIp)));
    }

    /// <summary>Frames the kernel or interface dropped before libpcap read them.</summary>
    public long Dropped
    {
        get
        {
            try
            {
                var statistics = _device.Statistics;
                return statistics is null ? 0 : (long)statistics.DroppedPackets + statistics.InterfaceDroppedPackets;
            }
            catch (PcapException)
            {
                return 0;
            }
        }
    }

    /// <summary>Opens the interface; the error names the interface and the reason.</summary>
    public static bool TryOpen(string name, string filter, int snapLength, bool promiscuous, RateAggregator aggregator, ILogger logger, out LiveCapture? capture, out string error)
    {
        capture = null;
        LibPcapLiveDevice? device;
        try
        {
            device = LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == name);
        }
        catch (DllNotFoundException)
        {
            error = "libpcap is not installed (Debian: apt-get install libpcap0.8)";
            return false;
        }

        if (device is null)
        {
            error = $"Capture:Interfaces: no interface named '{name}'";
            return false;
        }

        try
        {
            device.Open(new DeviceConfiguration
            {
                Snaplen = snapLength,
                Mode = promiscuous ? DeviceModes.Promiscuous : DeviceModes.None,
                ReadTimeout = 200,
                BufferSize = 16 * 1024 * 1024,
            });
            if (filter.Length > 0)
            {
                device.Filter = filter;
            }
        }
        catch (PcapException exception)
        {
            device.Dispose();
            error = $"Capture: cannot capture on '{name}' ({exception.Message.Trim()}); capturing needs root or CAP_NET_RAW, and the filter must be valid BPF";
            return false;
        }

        capture = new LiveCapture(device, aggregator, logger);
        error = string.Empty;
        return true;
    }

    public void Start()
    {
        var shard = _aggregator.CreateShard();
        _thread = new Thread(() => Read(shard)) { IsBackground = true, Name = $"capture-{Interface}" };
        _thread.Start();
        LogCapturing(_logger, Interface);
    }

    public void Dispose()
    {
        _stopping = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
        _device.Dispose();
    }

    private void Read(AggregationShard shard)
    {
        var linkType = (LinkType)(ushort)_device.LinkType;
        while (!_stopping)
        {
            GetPacketStatus status;
            try
            {
                status = _device.GetNextPacket(out var packet);
                if (status == GetPacketStatus.PacketRead)
                {
                    Interlocked.Increment(ref _frames);
                    var wireLength = packet.Header is PcapHeader header ? (int)header.PacketLength : packet.Data.Length;
                    var timeval = packet.Header.Timeval;
                    var milliseconds = ((long)timeval.Seconds * 1000) + ((long)timeval.MicroSeconds / 1000);
                    if (!PacketFlows.TryDecodeMirrored(packet.Data, linkType, wireLength, milliseconds, out var flow))
                    {
                        Interlocked.Increment(ref _notIp);
                        continue;
                    }

                    if (flow.Exporter == NetworkAddress.None)
                    {
                        // Frames seen on this interface count for this interface.
                        flow.InputInterface = _interfaceId;
                        flow.Direction = FlowDirection.Ingress;
                    }

                    shard.Enter();
                    try
                    {
                        shard.OnFlow(flow);
                    }
                    finally
                    {
                        shard.Exit();
                    }
                }
                else if (status == GetPacketStatus.Error)
                {
                    LogCaptureError(_logger, Interface);
                    return;
                }
            }
            catch (PcapException exception) when (!_stopping)
            {
                LogCaptureFailed(_logger, exception, Interface);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "capture: reading mirrored traffic on {Interface}")]
    private static partial void LogCapturing(ILogger logger, string @interface);

    [LoggerMessage(Level = LogLevel.Error, Message = "capture: {Interface} returned an error and stopped")]
    private static partial void LogCaptureError(ILogger logger, string @interface);

    [LoggerMessage(Level = LogLevel.Error, Message = "capture: {Interface} failed")]
    private static partial void LogCaptureFailed(ILogger logger, Exception exception, string @interface);
}
