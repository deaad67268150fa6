using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// Every key the detector holds state for: created on a key's first sample (with the baseline a previous run saved
/// for it, if any), forgotten once it has been silent for <see cref="DetectionOptions.ForgetSeconds"/> without an
/// incident, and snapshotted for saving.
/// </summary>
internal sealed class KeyStateTable
{
    /// <summary>How often silent keys are looked for: a full scan every second would cost more than the keys.</summary>
    private const long EvictionIntervalSeconds = 60;

    private readonly DetectionOptions _options;
    private readonly ThresholdPolicy _policy;
    private readonly string _node;
    private readonly InterfaceNames _names;
    private readonly MonitoredPrefixes _prefixes;
    private readonly Dictionary<TrafficKey, KeyState> _states = [];
    private readonly Dictionary<string, SavedBaseline> _saved = new(StringComparer.Ordinal);
    private long _lastEviction;
    private int _learning;

    public KeyStateTable(DetectionOptions options, ThresholdPolicy policy, string node, InterfaceNames names, MonitoredPrefixes prefixes, IReadOnlyList<SavedBaseline> saved)
    {
        _options = options;
        _policy = policy;
        _node = node;
        _names = names;
        _prefixes = prefixes;
        foreach (var baseline in saved)
        {
            _saved[baseline.Key] = baseline;
        }
    }

    public int Count => _states.Count;

    /// <summary>Keys still learning their baseline: judged by the learning floors alone until they are done.</summary>
    public int Learning => Volatile.Read(ref _learning);

    public bool TryGet(in TrafficKey key, out KeyState state) => _states.TryGetValue(key, out state!);

    /// <summary>A new key's state, seen first in <paramref name="second"/>.</summary>
    public KeyState Create(in TrafficKey key, long second)
    {
        var description = KeyDescription.Of(key, _node, _names, _prefixes);
        var state = new KeyState(key, description, second) { Override = _policy.OverrideFor(key, description) };
        if (_saved.Remove(description.Text, out var saved))
        {
            state.Baseline = saved.Baseline;
            state.Learned = saved.Learned;
            state.FirstSecond = saved.Learned ? second - _options.LearningSeconds : second;
        }
        else if (key.Kind == KeyKind.Destination && _states.TryGetValue(TrafficKey.ForPrefix(key.Prefix), out var prefix) && prefix.Learned)
        {
            // A destination first seen after its prefix learned is new, and new at this rate: judged against the
            // floors straight away, so a flood aimed at an unused address is not learned as its normal.
            state.Learned = true;
        }

        _states[key] = state;
        if (!state.Learned)
        {
            Interlocked.Increment(ref _learning);
        }

        return state;
    }

    /// <summary>A key has learned long enough for its own threshold to apply.</summary>
    public void MarkLearned(KeyState state)
    {
        if (!state.Learned)
        {
            state.Learned = true;
            Interlocked.Decrement(ref _learning);
        }
    }

    /// <summary>Forgets keys silent for longer than the options allow, unless an incident holds them.</summary>
    public void EvictSilent(long second)
    {
        if (second - _lastEviction < EvictionIntervalSeconds)
        {
            return;
        }

        _lastEviction = second;
        List<TrafficKey>? forget = null;
        foreach (var (key, state) in _states)
        {
            if (state.Incident is null && second - state.LastSecond > _options.ForgetSeconds)
            {
                (forget ??= []).Add(key);
            }
        }

        if (forget is not null)
        {
            foreach (var key in forget)
            {
                if (_states.Remove(key, out var state) && !state.Learned)
                {
                    Interlocked.Decrement(ref _learning);
                }
            }
        }
    }

    /// <summary>Every baseline that has learned anything, for saving.</summary>
    public List<SavedBaseline> Snapshot()
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
}
