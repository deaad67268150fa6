using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>A key's baseline as saved between runs.</summary>
public readonly record struct SavedBaseline(string Key, KeyBaseline Baseline, long FirstSecond, long LastSecond, bool Learned);

/// <summary>What the detector resumes with after a restart.</summary>
public sealed class DetectorState
{
    public IReadOnlyList<SavedBaseline> Baselines { get; init; } = [];

    /// <summary>Incidents that were open when the previous run ended; resumed if their key breaches again soon.</summary>
    public IReadOnlyList<IncidentRecord> OpenIncidents { get; init; } = [];

    /// <summary>The highest incident id used so far.</summary>
    public long LastIncidentId { get; init; }
}

/// <summary>
/// The 1-second detector: judges every key's sample against its threshold, learns from the seconds that are
/// normal, and hands breaches to the <see cref="IncidentTracker"/>. Called once a second from one thread with the
/// aggregator's result, and a pure function of it: times are those the second carries, not a clock's.
/// Allocation-free for keys it already knows and without incidents.
/// </summary>
public sealed class Detector
{
    private readonly DetectionOptions _options;
    private readonly InterfaceCapacities _capacities;
    private readonly ThresholdPolicy _policy;
    private readonly KeyStateTable _keys;
    private readonly IncidentTracker _incidents;
    private readonly List<KeyState> _touched = [];

    // Which prefixes have a destination breaching or in an incident, and which sources (by kind, indexed by
    // TrafficSource) an interface breaching, in the second being judged: their breaches explain the wider key's.
    private readonly bool[] _prefixHasIncident;
    private readonly bool[] _sourceHasInterfaceBreach = new bool[8];
    private long _implausibleSeconds;

    public Detector(DetectionOptions options, string node, InterfaceNames names, MonitoredPrefixes prefixes, IIncidentObserver observer, DetectorState? state = null, InterfaceCapacities? capacities = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(prefixes);
        ArgumentNullException.ThrowIfNull(observer);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        state ??= new DetectorState();
        _options = options;
        _capacities = capacities ?? InterfaceCapacities.Configured(options, names, 0);
        _prefixHasIncident = new bool[Math.Max(1, prefixes.Count)];
        _policy = new ThresholdPolicy(options, prefixes);
        _keys = new KeyStateTable(options, _policy, node, names, prefixes, state.Baselines);
        _incidents = new IncidentTracker(options, observer, _capacities, state);
    }

    /// <summary>Open incidents, newest first; safe to read from any thread.</summary>
    public IReadOnlyList<IncidentRecord> OpenIncidents => _incidents.OpenIncidents;

    /// <summary>What each link can carry, as agents report and the configuration says.</summary>
    public InterfaceCapacities Capacities => _capacities;

    /// <summary>Keys with state (baselines) held.</summary>
    public int KeyCount => _keys.Count;

    /// <summary>Keys still learning their baseline (judged by the learning floors alone); safe to read from any thread.</summary>
    public int LearningKeys => _keys.Learning;

    /// <summary>Seconds of interfaces not judged because more traffic than their link can carry was counted for them.</summary>
    public long ImplausibleSeconds => Interlocked.Read(ref _implausibleSeconds);

    /// <summary>
    /// Breaching seconds of keys that got no incident because <see cref="DetectionOptions.MaxOpenIncidents"/> were
    /// open already, per kind of key (indexed by <see cref="KeyKind"/>).
    /// </summary>
    public long Overflow(KeyKind kind) => _incidents.Overflow(kind);

    /// <summary>The thresholds a key was judged by in the last second it had traffic.</summary>
    public bool TryGetThresholds(in TrafficKey key, out MetricValues thresholds)
    {
        if (_keys.TryGet(key, out var state))
        {
            thresholds = state.Thresholds;
            return true;
        }

        thresholds = default;
        return false;
    }

    /// <summary>Judges one second of samples; observers hear of every incident change before this returns.</summary>
    public void Process(TrafficSecond second)
    {
        ArgumentNullException.ThrowIfNull(second);
        var now = second.Second;
        var at = second.ObservedAt;
        _touched.Clear();
        Array.Clear(_prefixHasIncident);
        Array.Clear(_sourceHasInterfaceBreach);

        // First pass: every key against its own threshold.
        foreach (ref readonly var sample in second.Samples)
        {
            var state = Judge(sample, now);
            _touched.Add(state);
            if (state.Breaching || state.Incident is not null)
            {
                if (sample.Key.Kind == KeyKind.Destination && sample.Key.Prefix >= 0 && sample.Key.Prefix < _prefixHasIncident.Length)
                {
                    _prefixHasIncident[sample.Key.Prefix] = true;
                }
                else if (sample.Key.Kind == KeyKind.Interface && state.Breaching)
                {
                    _sourceHasInterfaceBreach[(int)sample.Key.Source & 7] = true;
                }
            }
        }

        // Second pass: incidents, now that it is known which breaches other keys already explain.
        var samples = second.Samples;
        for (var i = 0; i < _touched.Count; i++)
        {
            Track(_touched[i], samples[i], now, at);
        }

        _incidents.CalmSilent(now, at);
        _incidents.ExpireResumable(now, at);
        _keys.EvictSilent(now);
        _incidents.Publish();
    }

    /// <summary>
    /// Opens incidents early from the second still being counted (<see cref="RateAggregator.Peek"/>): counts only grow
    /// within a second, so a key over its threshold part-way through will be over it at the tick, and waiting for the
    /// tick only adds delay. The decision is the one the tick would make, with the same thresholds, only sooner; it
    /// applies when one breaching second opens an incident. Destinations and interfaces are judged first, so that a
    /// prefix opens (as carpet bombing, when its traffic is spread) only where none of its destinations explains it.
    /// </summary>
    public void Probe(TrafficSecond partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        if (_options.ConsecutiveSeconds != 1)
        {
            return;
        }

        var now = partial.Second;
        Array.Clear(_prefixHasIncident);
        foreach (ref readonly var sample in partial.Samples)
        {
            if (sample.Key.Kind == KeyKind.Prefix)
            {
                continue;
            }

            var state = ProbeState(sample.Key, now);
            if (state.Incident is not null || ProbeOpen(state, sample, partial, carpet: false))
            {
                MarkPrefix(sample.Key);
            }
        }

        foreach (ref readonly var sample in partial.Samples)
        {
            var prefix = sample.Key.Prefix;
            if (sample.Key.Kind != KeyKind.Prefix || (prefix >= 0 && prefix < _prefixHasIncident.Length && _prefixHasIncident[prefix]))
            {
                continue;
            }

            var state = ProbeState(sample.Key, now);
            if (state.Incident is null)
            {
                ProbeOpen(state, sample, partial, carpet: sample.Destinations >= _options.CarpetBombingDestinations);
            }
        }

        _incidents.Publish();
    }

    /// <summary>
    /// A key's state for a probe: a key seen for the first time this second gets it now, with the thresholds the tick
    /// would give it (the floors), so that a flood to a new address is not left to the tick.
    /// </summary>
    private KeyState ProbeState(in TrafficKey key, long now)
    {
        if (_keys.TryGet(key, out var state))
        {
            return state;
        }

        state = _keys.Create(key, now);
        _policy.Apply(key.Kind, state.Learned, state.Override, state.Baseline, ref state.Thresholds);
        return state;
    }

    /// <summary>Opens the incident of a key whose second so far breaches; true when it did.</summary>
    private bool ProbeOpen(KeyState state, in TrafficSample sample, TrafficSecond partial, bool carpet)
    {
        var values = MetricValues.From(sample.Counts);
        var verdict = BreachJudge.Judge(sample, values, state.Thresholds, state.Override?.LearningOnly ?? false);
        if (!verdict.Breaching || !IsPlausible(sample))
        {
            return false;
        }

        state.Values = values;
        state.Ratio = verdict.Ratio;
        state.BreachingMetric = verdict.Metric;
        state.Breaching = true;
        _incidents.Open(state, sample, partial.Second, partial.ObservedAt, carpet);
        state.Values = default;
        state.Breaching = false;
        return state.Incident is not null;
    }

    private void MarkPrefix(in TrafficKey key)
    {
        if (key.Kind == KeyKind.Destination && key.Prefix >= 0 && key.Prefix < _prefixHasIncident.Length)
        {
            _prefixHasIncident[key.Prefix] = true;
        }
    }

    /// <summary>
    /// Gives an open interface incident what a packet sample of its traffic found (router mode); observers hear of it
    /// as <see cref="IncidentChange.Described"/>. False when the incident has closed meanwhile.
    /// </summary>
    public bool Describe(PacketSample sample, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var described = _incidents.Describe(sample, at);
        _incidents.Publish();
        return described;
    }

    /// <summary>Every learned baseline, for saving.</summary>
    public List<SavedBaseline> SnapshotBaselines() => _keys.Snapshot();

    private KeyState Judge(in TrafficSample sample, long now)
    {
        if (!_keys.TryGet(sample.Key, out var state))
        {
            state = _keys.Create(sample.Key, now);
        }
        else if (state.LastSecond < now - 1 && state.Incident is null)
        {
            state.Baseline.LearnSilence(now - state.LastSecond - 1, _options.BaselineSeconds);
        }

        state.LastSecond = now;
        state.Values = MetricValues.From(sample.Counts);
        if (!state.Learned && now - state.FirstSecond >= _options.LearningSeconds)
        {
            _keys.MarkLearned(state);
        }

        _policy.Apply(state.Key.Kind, state.Learned, state.Override, state.Baseline, ref state.Thresholds);
        var plausible = IsPlausible(sample);
        var verdict = BreachVerdict.None;
        if (plausible)
        {
            verdict = BreachJudge.Judge(sample, state.Values, state.Thresholds, state.Override?.LearningOnly ?? false);
        }
        else
        {
            // Plausible records that add up to an impossible link (forged or garbled exports): neither judged nor learned.
            Interlocked.Increment(ref _implausibleSeconds);
        }

        state.Ratio = verdict.Ratio;
        state.BreachingMetric = verdict.Metric;
        state.Breaching = verdict.Breaching;
        if (plausible && !state.Breaching && state.Incident is null)
        {
            state.Baseline.Learn(state.Values, _options.BaselineSeconds);
        }

        return state;
    }

    /// <summary>Whether an interface's second fits its link; other keys name no link.</summary>
    private bool IsPlausible(in TrafficSample sample) =>
        sample.Key.Kind != KeyKind.Interface || _capacities.IsPlausible(sample.Key.Device, sample.Key.Interface, sample.Counts.Packets, sample.Counts.BitsPerSecond);

    /// <summary>
    /// Hands a judged key to the tracker: a breach that a narrower key's incident explains (a destination's for its
    /// prefix, an interface's for its node) is not one of its own, and a key opens after enough breaching seconds.
    /// </summary>
    private void Track(KeyState state, in TrafficSample sample, long now, DateTimeOffset at)
    {
        var breaching = state.Breaching;
        var carpet = false;
        if (breaching && state.Key.Kind == KeyKind.Prefix)
        {
            // A prefix-wide excess that a destination's own incident explains is that incident, not another one.
            var prefix = state.Key.Prefix;
            breaching = prefix < 0 || prefix >= _prefixHasIncident.Length || !_prefixHasIncident[prefix];
            carpet = breaching && sample.Destinations >= _options.CarpetBombingDestinations;
        }
        else if (breaching && state.Key.Kind == KeyKind.Node)
        {
            breaching = !_sourceHasInterfaceBreach[(int)state.Key.Source & 7];
        }

        if (state.Incident is not null)
        {
            if (breaching)
            {
                _incidents.Continue(state, sample, now, at, carpet);
            }
            else
            {
                _incidents.Calm(state, sample, now, at);
            }

            return;
        }

        state.Consecutive = breaching ? state.Consecutive + 1 : 0;
        if (state.Consecutive >= _options.ConsecutiveSeconds)
        {
            _incidents.Open(state, sample, now, at, carpet);
        }
    }
}
