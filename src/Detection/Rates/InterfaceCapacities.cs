using System.Collections.Concurrent;
using FlowCollector.Decoders;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// What each link can carry, in bits per second, where it is known: the speed an sFlow agent reports for its
/// interface (counter samples' ifSpeed), a capacity configured for an interface, or a default for every interface.
/// Records claiming more than their link can carry are not believed, severity counts the share of the link an attack
/// fills, and RTBH waits until the flood fills enough of it. Safe for the receive threads and the tick at once.
/// </summary>
public sealed class InterfaceCapacities
{
    private readonly ConcurrentDictionary<(NetworkAddress Exporter, uint Interface), double> _reported = new();
    private readonly Dictionary<(NetworkAddress Exporter, uint Interface), double> _configured = [];
    private readonly Dictionary<uint, double> _configuredAnyExporter = [];
    private readonly int _maxReported;
    private int _version;
    private double _largestReported;
    private volatile bool _anyKnown;

    /// <summary>
    /// An interface may carry up to this multiple of its capacity in a second before it is not believed: sampled
    /// estimates overshoot, twice the line rate cannot be real.
    /// </summary>
    public const double Slack = 2;

    /// <param name="defaultBps">The capacity of every interface nothing else describes; 0 when unknown.</param>
    /// <param name="maxReported">Interfaces whose reported speed is remembered; more are not (a forged agent cannot grow it).</param>
    /// <param name="fastestLinkPps">The most packets a second any one link carries (Aggregation:MaxRecordPps).</param>
    /// <param name="fastestLinkBps">The most bits a second any one link carries (Aggregation:MaxRecordBps).</param>
    public InterfaceCapacities(double defaultBps = 0, int maxReported = 4096, double fastestLinkPps = 1.5e9, double fastestLinkBps = 1e12)
    {
        DefaultBps = defaultBps;
        _anyKnown = defaultBps > 0;
        _maxReported = maxReported;
        FastestLinkPps = fastestLinkPps;
        FastestLinkBps = fastestLinkBps;
    }

    public double DefaultBps { get; }

    /// <summary>Whether any link's capacity is known (configured, reported, or a default).</summary>
    public bool AnyKnown => _anyKnown;

    public double FastestLinkPps { get; }

    public double FastestLinkBps { get; }

    /// <summary>
    /// Whether one interface's second can be real: no faster than the fastest link, nor than twice its own capacity
    /// where that is known. Many plausible records can still add up to an impossible interface.
    /// </summary>
    public bool IsPlausible(NetworkAddress exporter, uint interfaceId, double pps, double bps)
    {
        if (pps > FastestLinkPps || bps > FastestLinkBps)
        {
            return false;
        }

        var capacity = Of(exporter, interfaceId);
        return capacity <= 0 || bps <= Slack * capacity;
    }

    /// <summary>Changes whenever a capacity changes, so that callers caching one know to look again.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>The largest capacity known of any link: configured, reported or the default; 0 when none is known.</summary>
    public double LargestBps
    {
        get
        {
            var largest = Math.Max(DefaultBps, Volatile.Read(ref _largestReported));
            foreach (var capacity in _configured.Values)
            {
                largest = Math.Max(largest, capacity);
            }

            foreach (var capacity in _configuredAnyExporter.Values)
            {
                largest = Math.Max(largest, capacity);
            }

            return largest;
        }
    }

    /// <summary>
    /// A capacity from the configuration for an interface (ifIndex, or the id of an interface name) of one exporter,
    /// or of every exporter when <paramref name="exporter"/> is null. Called before traffic starts.
    /// </summary>
    public void Configure(NetworkAddress? exporter, uint interfaceId, double bps)
    {
        if (!(bps > 0))
        {
            return;
        }

        if (exporter is { } device)
        {
            _configured.TryAdd((device, interfaceId), bps);
        }
        else
        {
            _configuredAnyExporter.TryAdd(interfaceId, bps);
        }

        _anyKnown = true;
        Interlocked.Increment(ref _version);
    }

    /// <summary>An interface speed an agent reported (sFlow ifSpeed).</summary>
    public void Report(NetworkAddress exporter, uint interfaceId, double bps)
    {
        if (!(bps > 0) || double.IsInfinity(bps))
        {
            return;
        }

        var key = (exporter, interfaceId);
        if (_reported.TryGetValue(key, out var known) && known == bps)
        {
            return;
        }

        if (known == 0 && _reported.Count >= _maxReported)
        {
            return;
        }

        _reported[key] = bps;
        lock (_reported)
        {
            _largestReported = Math.Max(_largestReported, bps);
        }

        _anyKnown = true;
        Interlocked.Increment(ref _version);
    }

    /// <summary>
    /// The capacities the detection options describe: <c>Detection:DefaultCapacityBps</c> for every
    /// interface, and each interface override's <c>CapacityBps</c> (by ifIndex, or by name for named interfaces).
    /// </summary>
    public static InterfaceCapacities Configured(Baselines.DetectionOptions options, InterfaceNames names, int maxReported, AggregationOptions? aggregation = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(names);
        aggregation ??= new AggregationOptions();
        var capacities = new InterfaceCapacities(options.DefaultCapacityBps, maxReported, aggregation.MaxRecordPps, aggregation.MaxRecordBps);
        foreach (var entry in options.Overrides)
        {
            if (entry.Interface.Length == 0 || !(entry.CapacityBps > 0))
            {
                continue;
            }

            NetworkAddress? exporter = entry.Exporter.Length > 0 && NetworkAddress.TryParse(entry.Exporter, out var device) ? device : null;
            var id = uint.TryParse(entry.Interface, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ifIndex) ? ifIndex : names.Id(entry.Interface);
            capacities.Configure(exporter, id, entry.CapacityBps);
        }

        return capacities;
    }

    /// <summary>The interface's capacity: reported, else configured (for this exporter, then for any), else the default; 0 when unknown.</summary>
    public double Of(NetworkAddress exporter, uint interfaceId)
    {
        if (_reported.TryGetValue((exporter, interfaceId), out var reported))
        {
            return reported;
        }

        if (_configured.Count > 0 && _configured.TryGetValue((exporter, interfaceId), out var configured))
        {
            return configured;
        }

        if (_configuredAnyExporter.Count > 0 && _configuredAnyExporter.TryGetValue(interfaceId, out configured))
        {
            return configured;
        }

        return DefaultBps;
    }
}
