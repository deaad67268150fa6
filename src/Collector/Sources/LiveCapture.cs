using FlowCollector.Decoders;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Evidence;
using Microsoft.Extensions.Logging;
using SharpPcap;
using SharpPcap.LibPcap;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Captures mirrored traffic on an interface through libpcap (SPAN port, or the destination of ERSPAN/GRE/TZSP
/// sessions), with an optional BPF filter applied in the kernel. Each frame is read in place and becomes a
/// one-packet record: of the tunnel's sender when it arrived in one, else of this interface. With a ring, each
/// frame is also kept there (the pre-attack ring); a router interface captured for its ring alone is not counted,
/// since /proc/net/dev counts it already.
/// </summary>
internal sealed partial class LiveCapture : IFlowSource
{
    private readonly LibPcapLiveDevice _device;
    private readonly RateAggregator _aggregator;
    private readonly uint _interfaceId;
    private readonly ILogger _logger;
    private readonly FrameRing? _ring;
    private readonly bool _counts;
    private Thread? _thread;
    private long _frames;
    private long _notIp;
    private volatile bool _stopping;

    private LiveCapture(LibPcapLiveDevice device, RateAggregator aggregator, ILogger logger, FrameRing? ring, bool counts)
    {
        _device = device;
        _aggregator = aggregator;
        _logger = logger;
        _ring = ring;
        _counts = counts;
        Interface = device.Name;
        _interfaceId = aggregator.Names.Id(device.Name);
    }

    public string Interface { get; }

    public string Name => (_counts ? "capture-" : "ring-") + Interface;

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

    /// <summary>
    /// Opens the interface; the error names the key, the interface and the reason. <paramref name="counts"/>: the
    /// frames become records; otherwise they only fill <paramref name="ring"/>.
    /// </summary>
    public static bool TryOpen(string name, string filter, int snapLength, bool promiscuous, RateAggregator aggregator, ILogger logger, out LiveCapture? capture, out string error, FrameRing? ring = null, bool counts = true)
    {
        capture = null;
        var key = counts ? "Capture:Interfaces" : "Capture:Ring:Interfaces";
        if (!TryOpenDevice(name, filter, snapLength, promiscuous, readTimeout: 200, immediate: false, out var device, out error))
        {
            error = $"{key}: {error}";
            return false;
        }

        capture = new LiveCapture(device!, aggregator, logger, ring, counts);
        return true;
    }

    /// <summary>
    /// Opens an interface for capture with a BPF filter; the error names the interface and the reason. Immediate mode
    /// hands each frame over as it comes, for a short sample that must not wait for the kernel's blocks to fill.
    /// </summary>
    public static bool TryOpenDevice(string name, string filter, int snapLength, bool promiscuous, int readTimeout, bool immediate, out LibPcapLiveDevice? opened, out string error)
    {
        opened = null;
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
            error = $"no interface named '{name}'";
            return false;
        }

        try
        {
            device.Open(new DeviceConfiguration
            {
                Snaplen = snapLength,
                Mode = promiscuous ? DeviceModes.Promiscuous : DeviceModes.None,
                ReadTimeout = readTimeout,
                BufferSize = 16 * 1024 * 1024,
                Immediate = immediate ? true : null,
            });
            if (filter.Length > 0)
            {
                device.Filter = filter;
            }
        }
        catch (PcapException exception)
        {
            device.Dispose();
            error = $"cannot capture on '{name}' ({exception.Message.Trim()}); capturing needs root or CAP_NET_RAW, and the filter must be valid BPF";
            return false;
        }

        opened = device;
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
                    var wireLength = CapturedFrames.WireLength(packet.Header, packet.Data.Length);
                    var microseconds = CapturedFrames.Microseconds(packet.Header.Timeval);
                    _ring?.Append(packet.Data, linkType, microseconds, wireLength);
                    if (!_counts)
                    {
                        continue;
                    }

                    var milliseconds = microseconds / 1000;
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
