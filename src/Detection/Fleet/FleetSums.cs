using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Fleet;

/// <summary>One destination's or prefix's second as a node summarised it for the fleet.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1051", Justification = "Filled in place by the decoder, as TrafficSample is.")]
public struct SummaryEntry
{
    public KeyKind Kind;

    /// <summary>The destination, or the prefix's network.</summary>
    public NetworkAddress Address;

    /// <summary>The prefix's length (IPv4 lengths for IPv4); a destination's full length.</summary>
    public int PrefixLength;

    public TrafficCounts Counts;

    /// <summary>For a prefix: its destinations with traffic at the node.</summary>
    public int Destinations;

    public TopItems<uint> SourcePorts;
}

/// <summary>What became of one summary entry offered to the sums.</summary>
public enum SumOutcome
{
    Added,

    /// <summary>Its second was released already (a node late beyond the window, or a redelivery after a restart).</summary>
    Late,

    /// <summary>Its second is further ahead of the fleet's clock than a node's clock may be.</summary>
    Future,

    /// <summary>Its destination or prefix is not one the fleet monitors.</summary>
    Unmonitored,

    /// <summary>The second holds as many keys as the fleet tracks.</summary>
    Overflow,
}

/// <summary>
/// The nodes' per-second summaries summed per destination and prefix, a second at a time: entries are added as they
/// arrive (from any thread), and a second is released, once the window for late nodes has passed, as the one
/// <see cref="TrafficSecond"/> the detector judges, with the nodes that contributed to each key. Keys are the
/// fleet's own monitored prefixes: a destination goes to the longest that holds it, a prefix entry to the same prefix.
/// Windows are reused: steady operation allocates nothing per entry.
/// </summary>
public sealed class FleetSums
{
    /// <summary>How far ahead of the fleet's clock a node's second may be (clocks differ by that much at most).</summary>
    public const int MaxAheadSeconds = 5;

    private readonly Lock _gate = new();
    private readonly MonitoredPrefixes _prefixes;
    private readonly Dictionary<IpPrefix, int> _prefixIndex;
    private readonly int _maxKeys;
    private readonly Dictionary<long, Window> _windows = [];
    private readonly Stack<Window> _spare = new();
    private readonly List<string> _nodes = [];
    private readonly Dictionary<string, int> _nodeIndex = new(StringComparer.Ordinal);
    private readonly TrafficSecond _released = new();
    private Window? _last;
    private long _releasedThrough;

    public FleetSums(MonitoredPrefixes prefixes, int maxKeys, long firstSecond)
    {
        _prefixes = prefixes ?? throw new ArgumentNullException(nameof(prefixes));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _maxKeys = maxKeys;
        _prefixIndex = [];
        for (var i = 0; i < prefixes.Count; i++)
        {
            _prefixIndex.TryAdd(prefixes.Prefixes[i], i);
        }

        _releasedThrough = firstSecond - 1;
    }

    public MonitoredPrefixes Prefixes => _prefixes;

    /// <summary>The last second released; entries of it or older are late.</summary>
    public long ReleasedThrough
    {
        get
        {
            lock (_gate)
            {
                return _releasedThrough;
            }
        }
    }

    /// <summary>Nodes heard from so far.</summary>
    public int NodeCount
    {
        get
        {
            lock (_gate)
            {
                return _nodes.Count;
            }
        }
    }

    /// <summary>The index that stands for a node in the contributions (made on first use).</summary>
    public int NodeIndex(string node)
    {
        ArgumentNullException.ThrowIfNull(node);
        lock (_gate)
        {
            if (!_nodeIndex.TryGetValue(node, out var index))
            {
                index = _nodes.Count;
                _nodes.Add(node);
                _nodeIndex.Add(node, index);
            }

            return index;
        }
    }

    public string NodeName(int index)
    {
        lock (_gate)
        {
            return _nodes[index];
        }
    }

    /// <summary>Adds one node's entry for one second (a node sends each key once a second).</summary>
    public SumOutcome Add(int node, long second, in SummaryEntry entry, long clockSecond)
    {
        TrafficKey key;
        if (entry.Kind == KeyKind.Destination)
        {
            var prefix = _prefixes.Find(entry.Address);
            if (prefix < 0)
            {
                return SumOutcome.Unmonitored;
            }

            key = TrafficKey.ForDestination(entry.Address, prefix);
        }
        else if (entry.Kind == KeyKind.Prefix && _prefixIndex.TryGetValue(new IpPrefix(entry.Address, entry.PrefixLength), out var index))
        {
            key = TrafficKey.ForPrefix(index);
        }
        else
        {
            return SumOutcome.Unmonitored;
        }

        lock (_gate)
        {
            if (second <= _releasedThrough)
            {
                return SumOutcome.Late;
            }

            if (second > clockSecond + MaxAheadSeconds)
            {
                return SumOutcome.Future;
            }

            if (!_windows.TryGetValue(second, out var window))
            {
                window = _spare.Count > 0 ? _spare.Pop() : new Window();
                _windows.Add(second, window);
            }

            return window.Add(key, second, node, entry, _maxKeys) ? SumOutcome.Added : SumOutcome.Overflow;
        }
    }

    /// <summary>
    /// The sums of <paramref name="second"/> (every second is released in turn, with no traffic if no node sent any),
    /// leaving out the keys <paramref name="explained"/> says a node's own incident explains. Valid until the next
    /// release; the contributions of its keys can be read until then.
    /// </summary>
    public TrafficSecond Release(long second, DateTimeOffset observedAt, Func<TrafficKey, bool>? explained = null)
    {
        lock (_gate)
        {
            if (_last is not null)
            {
                _last.Clear();
                _spare.Push(_last);
                _last = null;
            }

            // Seconds skipped (the fleet's clock jumped) are dropped, not judged late.
            foreach (var stale in _windows.Keys.Where(s => s < second).ToList())
            {
                var window = _windows[stale];
                _windows.Remove(stale);
                window.Clear();
                _spare.Push(window);
            }

            _released.Buffer.Clear();
            _released.Second = second;
            _released.ObservedAt = observedAt;
            _releasedThrough = Math.Max(_releasedThrough, second);
            if (_windows.Remove(second, out var current))
            {
                _last = current;
                foreach (ref readonly var sample in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(current.Samples))
                {
                    if (explained is null || !explained(sample.Key))
                    {
                        _released.Buffer.Add(sample);
                    }
                }
            }

            return _released;
        }
    }

    /// <summary>The nodes that sent traffic for a key in the second last released, heaviest (packets) first.</summary>
    public IReadOnlyList<(string Node, double Packets)> Contributors(in TrafficKey key)
    {
        lock (_gate)
        {
            if (_last is null || !_last.Index.TryGetValue(key, out var slot))
            {
                return [];
            }

            return [.. _last.Shares[slot].OrderByDescending(s => s.Packets).Select(s => (_nodes[s.Node], s.Packets))];
        }
    }

    /// <summary>One second's sums and who contributed to each key.</summary>
    private sealed class Window
    {
        public Dictionary<TrafficKey, int> Index { get; } = [];

        public List<TrafficSample> Samples { get; } = [];

        public List<List<(int Node, double Packets)>> Shares { get; } = [];

        private int _used;

        public bool Add(in TrafficKey key, long second, int node, in SummaryEntry entry, int maxKeys)
        {
            if (!Index.TryGetValue(key, out var slot))
            {
                if (Samples.Count >= maxKeys)
                {
                    return false;
                }

                slot = Samples.Count;
                Index.Add(key, slot);
                Samples.Add(new TrafficSample { Key = key, Second = second });
                if (_used == Shares.Count)
                {
                    Shares.Add([]);
                }

                _used++;
            }

            ref var sample = ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Samples)[slot];
            sample.Counts.Add(entry.Counts);
            sample.SourcePorts.Merge(entry.SourcePorts);
            sample.Destinations = Math.Max(sample.Destinations, entry.Destinations);
            Shares[slot].Add((node, entry.Counts.Packets));
            return true;
        }

        public void Clear()
        {
            Index.Clear();
            Samples.Clear();
            for (var i = 0; i < _used; i++)
            {
                Shares[i].Clear();
            }

            _used = 0;
        }
    }
}
