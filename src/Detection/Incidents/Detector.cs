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
/// normal, and opens, updates and closes incidents. Called once a second from one thread with the aggregator's
/// result; allocation-free for keys it already knows and without incidents.
/// </summary>
public sealed class Detector
{
    private readonly DetectionOptions _options;
    private readonly TimeProvider _time;
    private readonly IIncidentObserver _observer;
    private readonly string _node;
    private readonly InterfaceNames _names;
    private readonly MonitoredPrefixes _prefixes;
    private readonly InterfaceCapacities _capacities;
    private readonly Dictionary<TrafficKey, KeyState> _states = [];
    private readonly List<KeyState> _touched = [];
    private readonly List<KeyState> _open = [];
    private readonly Dictionary<string, SavedBaseline> _saved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IncidentRecord> _resumable = new(StringComparer.Ordinal);
    private readonly bool[] _prefixHasIncident;
    private readonly bool[] _sourceHasInterfaceBreach = new bool[8];
    // Per kind of key, indexed by KeyKind.
    private readonly ThresholdPolicy _policy;
    private readonly long _resumeDeadline;
    private readonly long[] _overflow = new long[4];
    private long _implausibleSeconds;
    private volatile IncidentRecord[] _openRecords = [];
    private bool _openChanged;
    private long _lastIncidentId;
    private long _lastEviction;

    public Detector(DetectionOptions options, string node, InterfaceNames names, MonitoredPrefixes prefixes, TimeProvider time, IIncidentObserver observer, DetectorState? state = null, InterfaceCapacities? capacities = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        _options = options;
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _names = names ?? throw new ArgumentNullException(nameof(names));
        _prefixes = prefixes ?? throw new ArgumentNullException(nameof(prefixes));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _observer = observer ?? throw new ArgumentNullException(nameof(observer));
        _capacities = capacities ?? InterfaceCapacities.Configured(options, names, 0);
        _prefixHasIncident = new bool[Math.Max(1, prefixes.Count)];
        _policy = new ThresholdPolicy(options, prefixes);
        state ??= new DetectorState();
        foreach (var saved in state.Baselines)
        {
            _saved[saved.Key] = saved;
        }

        foreach (var incident in state.OpenIncidents)
        {
            _resumable[incident.Key] = incident;
        }

        _lastIncidentId = Math.Max(state.LastIncidentId, state.OpenIncidents.Count == 0 ? 0 : state.OpenIncidents.Max(i => i.Id));
        _resumeDeadline = time.GetUtcNow().ToUnixTimeSeconds() + options.CooldownSeconds;
    }

    /// <summary>Open incidents, newest first; safe to read from any thread.</summary>
    public IReadOnlyList<IncidentRecord> OpenIncidents => _openRecords;

    /// <summary>Keys with state (baselines) held.</summary>
    public int KeyCount => _states.Count;

    /// <summary>Seconds of interfaces not judged because more traffic than their link can carry was counted for them.</summary>
    public long ImplausibleSeconds => Interlocked.Read(ref _implausibleSeconds);

    /// <summary>
    /// Breaching seconds of keys that got no incident because <see cref="DetectionOptions.MaxOpenIncidents"/> were
    /// open already, per kind of key (indexed by <see cref="KeyKind"/>).
    /// </summary>
    public long Overflow(KeyKind kind) => Interlocked.Read(ref _overflow[(int)kind]);

    /// <summary>The thresholds a key was judged by in the last second it had traffic.</summary>
    public bool TryGetThresholds(in TrafficKey key, out MetricValues thresholds)
    {
        if (_states.TryGetValue(key, out var state))
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
            Track(_touched[i], samples[i], now);
        }

        // Open incidents of keys that went silent calm down too.
        for (var i = _open.Count - 1; i >= 0; i--)
        {
            var state = _open[i];
            if (state.LastSecond != now)
            {
                Calm(state, now, default);
            }
        }

        ExpireResumable(now);
        if (now - _lastEviction >= 60)
        {
            Evict(now);
            _lastEviction = now;
        }

        PublishOpen();
    }

    /// <summary>
    /// Opens incidents early from the second still being counted (<see cref="RateAggregator.Peek"/>): counts only grow
    /// within a second, so a destination or interface over its threshold part-way through will be over it at the
    /// tick, and waiting for the tick only adds delay. The decision is the one the tick would make, with the same
    /// thresholds, only sooner; it applies when one breaching second opens an incident, and to keys judged before.
    /// </summary>
    public void Probe(TrafficSecond partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        if (_options.ConsecutiveSeconds != 1)
        {
            return;
        }

        var now = partial.Second;
        foreach (ref readonly var sample in partial.Samples)
        {
            if (!_states.TryGetValue(sample.Key, out var state) || state.Incident is not null || state.LastSecond >= now || (state.Override?.LearningOnly ?? false))
            {
                continue;
            }

            var values = MetricValues.From(sample.Counts);
            var breachingMetric = BreachJudge.MostExceeded(values, state.Thresholds, out var ratio);
            if (breachingMetric < 0 || BreachJudge.IsBulkTransfer(sample, values, state.Thresholds)
                || (sample.Key.Kind == KeyKind.Interface && !_capacities.IsPlausible(sample.Key.Device, sample.Key.Interface, sample.Counts.Packets, sample.Counts.BitsPerSecond)))
            {
                continue;
            }

            state.Values = values;
            state.Ratio = ratio;
            state.BreachingMetric = breachingMetric;
            state.Breaching = true;
            Open(state, sample, now, carpet: false);
            state.Values = default;
            state.Breaching = false;
        }

        PublishOpen();
    }

    /// <summary>Every learned baseline, for saving.</summary>
    public List<SavedBaseline> SnapshotBaselines()
    {
        var result = new List<SavedBaseline>(_states.Count);
        foreach (var state in _states.Values)
        {
            if (state.Baseline.Samples > 0)
            {
                result.Add(new SavedBaseline(state.Description.Text, state.Baseline, state.FirstSecond, state.LastSecond, state.Learned));
            }
        }

        return result;
    }

    private KeyState Judge(in TrafficSample sample, long now)
    {
        if (!_states.TryGetValue(sample.Key, out var state))
        {
            state = Create(sample.Key, now);
            _states[sample.Key] = state;
        }
        else if (state.LastSecond < now - 1 && state.Incident is null)
        {
            state.Baseline.LearnSilence(now - state.LastSecond - 1, _options.BaselineSeconds);
        }

        state.LastSecond = now;
        state.Values = MetricValues.From(sample.Counts);
        if (!state.Learned && now - state.FirstSecond >= _options.LearningSeconds)
        {
            state.Learned = true;
        }

        _policy.Apply(state.Key.Kind, state.Learned, state.Override, state.Baseline, ref state.Thresholds);
        if (sample.Key.Kind == KeyKind.Interface && !_capacities.IsPlausible(sample.Key.Device, sample.Key.Interface, sample.Counts.Packets, sample.Counts.BitsPerSecond))
        {
            // Plausible records that add up to an impossible link (forged or garbled exports): neither judged nor learned.
            Interlocked.Increment(ref _implausibleSeconds);
            state.Ratio = 0;
            state.BreachingMetric = -1;
            state.Breaching = false;
            return state;
        }

        var breachingMetric = BreachJudge.MostExceeded(state.Values, state.Thresholds, out var ratio);
        state.Ratio = ratio;
        state.BreachingMetric = breachingMetric;
        state.Breaching = breachingMetric >= 0 && !(state.Override?.LearningOnly ?? false) && !BreachJudge.IsBulkTransfer(sample, state.Values, state.Thresholds);
        if (!state.Breaching && state.Incident is null)
        {
            state.Baseline.Learn(state.Values, _options.BaselineSeconds);
        }

        return state;
    }

    /// <summary>
    /// A backup or a speed test: nearly all bytes TCP, in large segments, with hardly any connection attempts. Floods of full
    /// TCP segments do not need a handshake-free host to hurt, but they need no SYN-flood signature either, and
    /// flagging every large transfer is what makes operators switch detection off. Only rate metrics are excused.
    /// </summary>
    private void Track(KeyState state, in TrafficSample sample, long now)
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
                state.Incident.CalmSeconds = 0;
                Update(state, sample, now, carpet);
            }
            else
            {
                Calm(state, now, sample);
            }

            return;
        }

        state.Consecutive = breaching ? state.Consecutive + 1 : 0;
        if (state.Consecutive >= _options.ConsecutiveSeconds)
        {
            Open(state, sample, now, carpet);
        }
    }

    private void Open(KeyState state, in TrafficSample sample, long now, bool carpet)
    {
        if (_open.Count >= _options.MaxOpenIncidents)
        {
            // A flood of breaching keys (thousands of hosts, or forged interfaces) must not make every second's
            // work grow without bound: what finds no room is counted, and the key is judged again next second.
            Interlocked.Increment(ref _overflow[(int)state.Key.Kind]);
            return;
        }

        var wallClock = _time.GetUtcNow();
        var metric = (DetectionMetric)Math.Max(0, state.BreachingMetric);
        Incident incident;
        if (state.Closed is { } closed && now - state.ClosedSecond <= _options.ReopenSeconds)
        {
            incident = closed;
            incident.ClosedAt = null;
            incident.CloseReason = null;
            incident.Reopened++;
        }
        else if (_resumable.Remove(state.Description.Text, out var previous))
        {
            incident = Resume(previous, state);
        }
        else
        {
            incident = new Incident(++_lastIncidentId, state.Description, now, wallClock, metric, state.Thresholds[(int)metric]);
        }

        state.Closed = null;
        state.Incident = incident;
        state.OpenIndex = _open.Count;
        _open.Add(state);
        _openChanged = true;
        Accumulate(state, incident, sample, carpet);
        var record = incident.ToRecord(wallClock);
        state.Record = record;
        incident.PublishedSeverity = incident.Severity;
        _observer.OnIncident(new IncidentEvent(IncidentChange.Opened, record, Second(incident, state, now)));
    }

    private static Incident Resume(IncidentRecord previous, KeyState state)
    {
        return new Incident(previous.Id, state.Description, previous.FirstSecond, previous.OpenedAt, previous.ThresholdMetric, previous.Threshold)
        {
            PeakPps = previous.PeakPps,
            PeakBps = previous.PeakBps,
            CapacityBps = previous.CapacityBps,
            Reopened = previous.Reopened,
        };
    }

    private void Update(KeyState state, in TrafficSample sample, long now, bool carpet)
    {
        var incident = state.Incident!;
        Accumulate(state, incident, sample, carpet);
        var record = incident.ToRecord(_time.GetUtcNow());
        state.Record = record;
        _openChanged = true;
        PublishUpdate(incident, state, record, now);
    }

    /// <summary>An open incident's second: escalated when its severity rose above any it had, else updated.</summary>
    private void PublishUpdate(Incident incident, KeyState state, IncidentRecord record, long now)
    {
        var change = IncidentChange.Updated;
        if (incident.Severity > incident.PublishedSeverity)
        {
            incident.PublishedSeverity = incident.Severity;
            change = IncidentChange.Escalated;
        }

        _observer.OnIncident(new IncidentEvent(change, record, Second(incident, state, now)));
    }

    private void Accumulate(KeyState state, Incident incident, in TrafficSample sample, bool carpet)
    {
        incident.Evidence.Add(sample, state.Baseline.Mean);
        incident.AddTops(sample);
        var (type, confidence) = incident.Evidence.Classify();
        if (carpet || incident.Type == AttackType.CarpetBombing)
        {
            incident.Vector = type;
            incident.Type = AttackType.CarpetBombing;

            // No destination breached on its own: all of the prefix's excess is spread traffic.
            incident.Confidence = 1;
        }
        else
        {
            incident.Type = type;
            incident.Confidence = confidence;
        }

        incident.CurrentPps = sample.Counts.Packets;
        incident.CurrentBps = sample.Counts.BitsPerSecond;
        incident.PeakPps = Math.Max(incident.PeakPps, incident.CurrentPps);
        incident.PeakBps = Math.Max(incident.PeakBps, incident.CurrentBps);
        incident.CapacityBps = CapacityOf(state);
        var severity = BreachJudge.SeverityOf(state.Ratio, incident.CurrentBps, incident.CapacityBps);
        incident.Severity = (Severity)Math.Max((int)incident.Severity, (int)severity);
    }

    /// <summary>
    /// The capacity of the link a key's traffic crosses, 0 when unknown: an override's, else for an interface what
    /// its agent reports or the configuration says. A destination or prefix names no link: the largest known one
    /// stands for it, so that the share of the link (severity, RTBH) is never overstated.
    /// </summary>
    private double CapacityOf(KeyState state)
    {
        if (state.Override?.CapacityBps is > 0 and var configured)
        {
            return configured;
        }

        return state.Key.Kind == KeyKind.Interface ? _capacities.Of(state.Key.Device, state.Key.Interface) : _capacities.LargestBps;
    }

    /// <summary>The metric furthest over its threshold (-1 when none is over), and by how much.</summary>
    private void Calm(KeyState state, long now, in TrafficSample sample)
    {
        var incident = state.Incident!;
        var stillHot = false;
        for (var m = 0; m < MetricValues.Count; m++)
        {
            stillHot |= state.LastSecond == now && state.Values[m] > state.Thresholds[m] * _options.Hysteresis;
        }

        var wallClock = _time.GetUtcNow();
        incident.CurrentPps = state.LastSecond == now ? sample.Counts.Packets : 0;
        incident.CurrentBps = state.LastSecond == now ? sample.Counts.BitsPerSecond : 0;
        incident.CalmSeconds = stillHot ? 0 : incident.CalmSeconds + 1;

        // Each time an attack came back after calming down, it must stay away longer before the incident closes.
        var cooldown = _options.CooldownSeconds << Math.Min(incident.Reopened, 3);
        if (incident.CalmSeconds < cooldown)
        {
            var record = incident.ToRecord(wallClock);
            state.Record = record;
            _openChanged = true;
            PublishUpdate(incident, state, record, now);
            return;
        }

        incident.ClosedAt = wallClock;
        incident.CloseReason = CloseReason.Calm;
        state.Incident = null;
        state.Closed = incident;
        state.ClosedSecond = now;
        state.Consecutive = 0;
        state.Record = null;
        RemoveOpen(state);
        _openChanged = true;
        _observer.OnIncident(IncidentEvent.Closed(incident.ToRecord(wallClock)));
    }

    private static IncidentSecond Second(Incident incident, KeyState state, long now)
    {
        var live = state.LastSecond == now;
        ref readonly var v = ref state.Values;
        return live
            ? new IncidentSecond(incident.Id, now, v[0], v[1], v[2], v[3], v[4], v[5], v[6], state.Breaching)
            : new IncidentSecond(incident.Id, now, 0, 0, 0, 0, 0, 0, 0, false);
    }

    private KeyState Create(in TrafficKey key, long now)
    {
        var description = KeyDescription.Of(key, _node, _names, _prefixes);
        var state = new KeyState(key, description, now) { Override = _policy.OverrideFor(key, description) };
        if (_saved.Remove(description.Text, out var saved))
        {
            state.Baseline = saved.Baseline;
            state.Learned = saved.Learned;
            state.FirstSecond = saved.Learned ? now - _options.LearningSeconds : now;
        }
        else if (key.Kind == KeyKind.Destination && _states.TryGetValue(TrafficKey.ForPrefix(key.Prefix), out var prefix) && prefix.Learned)
        {
            // A destination first seen after its prefix learned is new, and new at this rate: judged against the
            // floors straight away, so a flood aimed at an unused address is not learned as its normal.
            state.Learned = true;
        }

        return state;
    }

    private void ExpireResumable(long now)
    {
        if (_resumable.Count == 0 || now < _resumeDeadline)
        {
            return;
        }

        // Incidents of the previous run whose keys stayed quiet through a cool-down ended while we were down.
        var wallClock = _time.GetUtcNow();
        foreach (var previous in _resumable.Values)
        {
            _observer.OnIncident(IncidentEvent.Closed(previous with { ClosedAt = previous.UpdatedAt, UpdatedAt = wallClock, CloseReason = CloseReason.Restart }));
        }

        _resumable.Clear();
    }

    private void Evict(long now)
    {
        List<TrafficKey>? forget = null;
        foreach (var (key, state) in _states)
        {
            if (state.Incident is null && now - state.LastSecond > _options.ForgetSeconds)
            {
                (forget ??= []).Add(key);
            }
        }

        if (forget is not null)
        {
            foreach (var key in forget)
            {
                _states.Remove(key);
            }
        }
    }

    /// <summary>Takes a key off the open list in constant time: the last entry moves into its place.</summary>
    private void RemoveOpen(KeyState state)
    {
        var last = _open[^1];
        _open[state.OpenIndex] = last;
        last.OpenIndex = state.OpenIndex;
        _open.RemoveAt(_open.Count - 1);
        state.OpenIndex = -1;
    }

    /// <summary>
    /// Publishes the open incidents as they stand after this second, once: the records are the ones observers were
    /// given, so a second costs one record per open incident however many change.
    /// </summary>
    private void PublishOpen()
    {
        if (!_openChanged)
        {
            return;
        }

        _openChanged = false;
        var records = new IncidentRecord[_open.Count];
        for (var i = 0; i < _open.Count; i++)
        {
            records[i] = _open[i].Record!;
        }

        Array.Sort(records, static (a, b) => b.Id.CompareTo(a.Id));
        _openRecords = records;
    }

    private sealed class KeyState(TrafficKey key, KeyDescription description, long firstSecond)
    {
        public TrafficKey Key { get; } = key;

        public KeyDescription Description { get; } = description;

        public DetectionOverride? Override { get; init; }

        public long FirstSecond { get; set; } = firstSecond;

        public long LastSecond { get; set; } = firstSecond;

        public bool Learned { get; set; }

        public KeyBaseline Baseline;

        public MetricValues Values;

        public MetricValues Thresholds;

        public double Ratio { get; set; }

        public int BreachingMetric { get; set; } = -1;

        public bool Breaching { get; set; }

        public int Consecutive { get; set; }

        public Incident? Incident { get; set; }

        /// <summary>Where the key is in the open list, while its incident is open.</summary>
        public int OpenIndex { get; set; } = -1;

        /// <summary>The open incident's record as last handed to observers.</summary>
        public IncidentRecord? Record { get; set; }

        public Incident? Closed { get; set; }

        public long ClosedSecond { get; set; }
    }
}
