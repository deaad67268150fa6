using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// The lifecycle of incidents: opens one for a breaching key (or reopens the one that closed within
/// <see cref="DetectionOptions.ReopenSeconds"/>, or resumes the one a previous run left open), keeps its evidence
/// and severity up to date while it breaches, calms it down and closes it after its cool-down. Observers hear of
/// every change as it happens; the open incidents are published once per second.
/// </summary>
internal sealed class IncidentTracker
{
    /// <summary>Each reopening doubles the cool-down, up to this many times.</summary>
    private const int MaxCooldownDoublings = 3;

    private readonly DetectionOptions _options;
    private readonly IIncidentObserver _observer;
    private readonly InterfaceCapacities _capacities;
    private readonly List<KeyState> _open = [];
    private readonly Dictionary<string, IncidentRecord> _resumable = new(StringComparer.Ordinal);
    private readonly long[] _overflow = new long[4];
    private long _lastIncidentId;
    private long? _resumeDeadline;
    private volatile IncidentRecord[] _openRecords = [];
    private bool _openChanged;

    public IncidentTracker(DetectionOptions options, IIncidentObserver observer, InterfaceCapacities capacities, DetectorState state)
    {
        _options = options;
        _observer = observer;
        _capacities = capacities;
        foreach (var incident in state.OpenIncidents)
        {
            _resumable[incident.Key] = incident;
        }

        _lastIncidentId = Math.Max(state.LastIncidentId, state.OpenIncidents.Count == 0 ? 0 : state.OpenIncidents.Max(i => i.Id));
    }

    /// <summary>Open incidents, newest first, as of the last <see cref="Publish"/>; safe to read from any thread.</summary>
    public IReadOnlyList<IncidentRecord> OpenIncidents => _openRecords;

    public long Overflow(KeyKind kind) => Interlocked.Read(ref _overflow[(int)kind]);

    /// <summary>Opens (or reopens, or resumes) the incident of a key that breached long enough.</summary>
    public void Open(KeyState state, in TrafficSample sample, long second, DateTimeOffset at, bool carpet)
    {
        if (_open.Count >= _options.MaxOpenIncidents)
        {
            // A flood of breaching keys (thousands of hosts, or forged interfaces) must not make every second's
            // work grow without bound: what finds no room is counted, and the key is judged again next second.
            Interlocked.Increment(ref _overflow[(int)state.Key.Kind]);
            return;
        }

        var metric = (DetectionMetric)Math.Max(0, state.BreachingMetric);
        Incident incident;
        if (state.Closed is { } closed && second - state.ClosedSecond <= _options.ReopenSeconds)
        {
            incident = closed;
            incident.ClosedAt = null;
            incident.CloseReason = null;
            incident.CalmSeconds = 0;
            incident.Reopened++;
        }
        else if (_resumable.Remove(state.Description.Text, out var previous))
        {
            incident = Resume(previous, state);
        }
        else
        {
            incident = new Incident(++_lastIncidentId, state.Description, second, at, metric, state.Thresholds[(int)metric]);
        }

        state.Closed = null;
        state.Incident = incident;
        state.OpenIndex = _open.Count;
        _open.Add(state);
        _openChanged = true;
        Accumulate(state, incident, sample, carpet);
        var record = incident.ToRecord(at);
        state.Record = record;
        incident.PublishedSeverity = incident.Severity;
        _observer.OnIncident(new IncidentEvent(IncidentChange.Opened, record, SecondOf(incident, state, second)));
    }

    /// <summary>Another breaching second of an open incident.</summary>
    public void Continue(KeyState state, in TrafficSample sample, long second, DateTimeOffset at, bool carpet)
    {
        var incident = state.Incident!;
        incident.CalmSeconds = 0;
        Accumulate(state, incident, sample, carpet);
        PublishChange(state, incident, second, at);
    }

    /// <summary>
    /// A second of an open incident that did not breach: it counts towards the cool-down unless the traffic is still
    /// over threshold × hysteresis, and the incident closes once the cool-down is served.
    /// </summary>
    public void Calm(KeyState state, in TrafficSample sample, long second, DateTimeOffset at)
    {
        var incident = state.Incident!;
        var live = state.SeenIn(second);
        var stillHot = false;
        for (var m = 0; m < MetricValues.Count; m++)
        {
            stillHot |= live && state.Values[m] > state.Thresholds[m] * _options.Hysteresis;
        }

        incident.CurrentPps = live ? sample.Counts.Packets : 0;
        incident.CurrentBps = live ? sample.Counts.BitsPerSecond : 0;
        incident.CalmSeconds = stillHot ? 0 : incident.CalmSeconds + 1;

        // Each time an attack came back after calming down, it must stay away longer before the incident closes.
        var cooldown = _options.CooldownSeconds << Math.Min(incident.Reopened, MaxCooldownDoublings);
        if (incident.CalmSeconds < cooldown)
        {
            PublishChange(state, incident, second, at);
            return;
        }

        incident.ClosedAt = at;
        incident.CloseReason = CloseReason.Calm;
        state.Incident = null;
        state.Closed = incident;
        state.ClosedSecond = second;
        state.Consecutive = 0;
        state.Record = null;
        RemoveOpen(state);
        _openChanged = true;
        _observer.OnIncident(IncidentEvent.Closed(incident.ToRecord(at)));
    }

    /// <summary>Open incidents whose keys had no traffic in <paramref name="second"/> calm down too.</summary>
    public void CalmSilent(long second, DateTimeOffset at)
    {
        for (var i = _open.Count - 1; i >= 0; i--)
        {
            var state = _open[i];
            if (!state.SeenIn(second))
            {
                Calm(state, default, second, at);
            }
        }
    }

    /// <summary>
    /// Incidents of the previous run whose keys stayed quiet for a cool-down after the first second judged ended
    /// while the collector was down: closed as of their last update.
    /// </summary>
    public void ExpireResumable(long second, DateTimeOffset at)
    {
        _resumeDeadline ??= second + _options.CooldownSeconds;
        if (_resumable.Count == 0 || second < _resumeDeadline)
        {
            return;
        }

        foreach (var previous in _resumable.Values)
        {
            _observer.OnIncident(IncidentEvent.Closed(previous with { ClosedAt = previous.UpdatedAt, UpdatedAt = at, CloseReason = CloseReason.Restart }));
        }

        _resumable.Clear();
    }

    /// <summary>
    /// Publishes the open incidents as they stand, once per second at most: the records are the ones observers were
    /// given, so a second costs one record per open incident however many change.
    /// </summary>
    public void Publish()
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

    /// <summary>An open incident's second: escalated when its severity rose above any it had, else updated.</summary>
    private void PublishChange(KeyState state, Incident incident, long second, DateTimeOffset at)
    {
        var record = incident.ToRecord(at);
        state.Record = record;
        _openChanged = true;
        var change = IncidentChange.Updated;
        if (incident.Severity > incident.PublishedSeverity)
        {
            incident.PublishedSeverity = incident.Severity;
            change = IncidentChange.Escalated;
        }

        _observer.OnIncident(new IncidentEvent(change, record, SecondOf(incident, state, second)));
    }

    /// <summary>
    /// A packet sample of an open incident's traffic: it names the type and victims that the incident's counters
    /// could not. False when the incident has closed since the sample was asked for.
    /// </summary>
    public bool Describe(PacketSample sample, DateTimeOffset at)
    {
        foreach (var state in _open)
        {
            var incident = state.Incident!;
            if (incident.Id != sample.IncidentId)
            {
                continue;
            }

            var changed = incident.Describe(sample);
            var record = incident.ToRecord(at);
            state.Record = record;
            _openChanged = true;

            // A later sample that names the same type and heaviest victim only brings the rates up to date.
            var change = changed || !sample.Follows ? IncidentChange.Described : IncidentChange.Updated;
            _observer.OnIncident(new IncidentEvent(change, record, change == IncidentChange.Updated ? SecondOf(incident, state, state.LastSecond) : default));
            return true;
        }

        return false;
    }

    private void Accumulate(KeyState state, Incident incident, in TrafficSample sample, bool carpet)
    {
        if (incident.Described)
        {
            // Its counters carry no composition: the packet sample's evidence stands.
            Measure(state, incident, sample);
            return;
        }

        incident.Evidence.Add(sample, state.Baseline.Mean);
        incident.AddTops(sample);
        var verdict = incident.Evidence.Classify();
        if (carpet || incident.Type == AttackType.CarpetBombing)
        {
            incident.Vector = verdict.Type;
            incident.Type = AttackType.CarpetBombing;

            // No destination breached on its own: all of the prefix's excess is spread traffic.
            incident.Confidence = 1;
        }
        else
        {
            incident.Type = verdict.Type;
            incident.Confidence = verdict.Confidence;
        }

        incident.Vectors = verdict.Vectors;

        Measure(state, incident, sample);
    }

    /// <summary>The incident's rates, peaks, link and severity from its latest second.</summary>
    private void Measure(KeyState state, Incident incident, in TrafficSample sample)
    {
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

    private static IncidentSecond SecondOf(Incident incident, KeyState state, long second)
    {
        ref readonly var v = ref state.Values;
        return state.SeenIn(second)
            ? new IncidentSecond(incident.Id, second, v[0], v[1], v[2], v[3], v[4], v[5], v[6], state.Breaching)
            : new IncidentSecond(incident.Id, second, 0, 0, 0, 0, 0, 0, 0, false);
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
}
