using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>
/// The incident lifecycle on its own: keys whose judgement is set by hand, seconds and times given explicitly, so
/// that opening, reopening, resuming, calming and closing are each checked without traffic or a clock.
/// </summary>
public sealed class IncidentTrackerTests
{
    private const long Start = 1_800_000_000;
    private static readonly MonitoredPrefixes Prefixes = new([IpPrefix.Parse("203.0.113.0/24")]);
    private readonly DetectionOptions _options = new() { CooldownSeconds = 5, ReopenSeconds = 60, MaxOpenIncidents = 2 };
    private readonly RecordingObserver _observer = new();
    private readonly KeyStateTable _keys;

    public IncidentTrackerTests()
    {
        _keys = new KeyStateTable(_options, new ThresholdPolicy(_options, Prefixes), "edge-1", new InterfaceNames(), Prefixes, []);
    }

    [Fact]
    public void Open_NewKey_NumbersAfterTheLastIdAndStampsTheGivenTime()
    {
        var tracker = Tracker(new DetectorState { LastIncidentId = 41 });
        var state = Breaching("203.0.113.10", ratio: 3);
        var at = At(Start) + TimeSpan.FromMilliseconds(250);

        tracker.Open(state, Sample(state, 30_000), Start, at, carpet: false);
        tracker.Publish();

        var opened = Assert.Single(_observer.Opened);
        Assert.Equal(42, opened.Id);
        Assert.Equal(at, opened.OpenedAt);
        Assert.Equal(at, opened.UpdatedAt);
        Assert.Equal(Start, opened.FirstSecond);
        Assert.Equal(Severity.Medium, opened.Severity);
        Assert.Equal(opened, Assert.Single(tracker.OpenIncidents));
    }

    [Fact]
    public void Calm_ThroughTheCooldown_UpdatesThenClosesAsCalm()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);

        for (var second = Start + 1; second <= Start + _options.CooldownSeconds; second++)
        {
            Quiet(state, second);
            tracker.Calm(state, Sample(state, 100), second, At(second));
        }

        tracker.Publish();
        var closed = Assert.Single(_observer.Closed);
        Assert.Equal(CloseReason.Calm, closed.CloseReason);
        Assert.Equal(At(Start + _options.CooldownSeconds), closed.ClosedAt);
        Assert.Equal(_options.CooldownSeconds - 1, _observer.Events.Count(e => e.Change == IncidentChange.Updated));
        Assert.Empty(tracker.OpenIncidents);
        Assert.Null(state.Incident);
    }

    [Fact]
    public void Calm_TrafficStillOverHysteresis_DoesNotCountTowardsTheCooldown()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);

        for (var second = Start + 1; second <= Start + (3 * _options.CooldownSeconds); second++)
        {
            // Under the threshold, above threshold × hysteresis: not a breach, not calm either.
            state.LastSecond = second;
            state.Breaching = false;
            state.Values[(int)DetectionMetric.Pps] = state.Thresholds[(int)DetectionMetric.Pps] * 0.9;
            tracker.Calm(state, Sample(state, 900), second, At(second));
        }

        Assert.Empty(_observer.Closed);
        Assert.Equal(0, state.Incident!.CalmSeconds);
    }

    [Fact]
    public void Open_WithinTheReopenWindow_ReopensTheSameIncidentAndDoublesItsCooldown()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);
        var second = CalmUntilClosed(tracker, state, Start + 1);
        Assert.Equal(_options.CooldownSeconds, second - Start);
        var firstId = Assert.Single(_observer.Closed).Id;

        Breach(state, second + 10, ratio: 3);
        tracker.Open(state, Sample(state, 30_000), second + 10, At(second + 10), carpet: false);
        var reopened = _observer.Opened[^1];
        Assert.Equal(firstId, reopened.Id);
        Assert.Equal(1, reopened.Reopened);
        Assert.Null(reopened.ClosedAt);

        var closedAt = CalmUntilClosed(tracker, state, second + 11);
        Assert.Equal(2 * _options.CooldownSeconds, closedAt - (second + 10));
    }

    [Fact]
    public void Open_AfterTheReopenWindow_IsANewIncident()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);
        var second = CalmUntilClosed(tracker, state, Start + 1);

        var later = second + _options.ReopenSeconds + 1;
        Breach(state, later, ratio: 3);
        tracker.Open(state, Sample(state, 30_000), later, At(later), carpet: false);

        Assert.Equal([1L, 2L], _observer.Opened.Select(i => i.Id));
        Assert.Equal(0, _observer.Opened[^1].Reopened);
    }

    [Fact]
    public void Open_KeyAPreviousRunLeftOpen_ResumesItsIncident()
    {
        var previous = PreviousRun("destination/203.0.113.10", id: 7, peakPps: 90_000);
        var tracker = Tracker(new DetectorState { OpenIncidents = [previous] });
        var state = Breaching("203.0.113.10", ratio: 3);

        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);

        var resumed = Assert.Single(_observer.Opened);
        Assert.Equal(7, resumed.Id);
        Assert.Equal(previous.OpenedAt, resumed.OpenedAt);
        Assert.Equal(previous.FirstSecond, resumed.FirstSecond);
        Assert.Equal(90_000, resumed.PeakPps);
    }

    [Fact]
    public void ExpireResumable_QuietThroughACooldownAfterTheFirstSecond_ClosesAsRestartAtItsLastUpdate()
    {
        var previous = PreviousRun("destination/203.0.113.99", id: 7, peakPps: 90_000);
        var tracker = Tracker(new DetectorState { OpenIncidents = [previous] });

        for (var second = Start; second < Start + _options.CooldownSeconds; second++)
        {
            tracker.ExpireResumable(second, At(second));
        }

        Assert.Empty(_observer.Closed);
        var end = Start + _options.CooldownSeconds;
        tracker.ExpireResumable(end, At(end));

        var closed = Assert.Single(_observer.Closed);
        Assert.Equal(7, closed.Id);
        Assert.Equal(CloseReason.Restart, closed.CloseReason);
        Assert.Equal(previous.UpdatedAt, closed.ClosedAt);
        Assert.Equal(At(end), closed.UpdatedAt);
    }

    [Fact]
    public void Open_AtTheLimitOfOpenIncidents_CountsTheKeyInsteadOfOpening()
    {
        var tracker = Tracker();
        for (var i = 1; i <= 3; i++)
        {
            var state = Breaching($"203.0.113.{i}", ratio: 3);
            tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);
        }

        Assert.Equal(2, _observer.Opened.Count);
        Assert.Equal(1, tracker.Overflow(KeyKind.Destination));
    }

    [Fact]
    public void Continue_SeverityRisesAboveAnyItHad_IsEscalatedOnce()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);

        Breach(state, Start + 1, ratio: 12);
        tracker.Continue(state, Sample(state, 120_000), Start + 1, At(Start + 1), carpet: false);
        Breach(state, Start + 2, ratio: 3);
        tracker.Continue(state, Sample(state, 30_000), Start + 2, At(Start + 2), carpet: false);
        Breach(state, Start + 3, ratio: 12);
        tracker.Continue(state, Sample(state, 120_000), Start + 3, At(Start + 3), carpet: false);

        Assert.Equal(
            [IncidentChange.Opened, IncidentChange.Escalated, IncidentChange.Updated, IncidentChange.Updated],
            _observer.Events.Select(e => e.Change));
        Assert.Equal(Severity.Critical, _observer.Latest[1].Severity);
    }

    [Fact]
    public void CalmSilent_OpenKeyWithoutASample_CalmsWithZeroRates()
    {
        var tracker = Tracker();
        var state = Breaching("203.0.113.10", ratio: 3);
        tracker.Open(state, Sample(state, 30_000), Start, At(Start), carpet: false);

        tracker.CalmSilent(Start + 1, At(Start + 1));

        var update = _observer.Events[^1];
        Assert.Equal(IncidentChange.Updated, update.Change);
        Assert.Equal(0, update.Incident.CurrentPps);
        Assert.False(update.Second.Breaching);
        Assert.Equal(1, state.Incident!.CalmSeconds);
    }

    private static DateTimeOffset At(long second) => DateTimeOffset.FromUnixTimeSeconds(second + 1);

    private IncidentTracker Tracker(DetectorState? state = null) =>
        new(_options, _observer, InterfaceCapacities.Configured(_options, new InterfaceNames(), 0), state ?? new DetectorState());

    private KeyState Breaching(string address, double ratio)
    {
        var state = _keys.Create(TrafficKey.ForDestination(NetworkAddress.Parse(address), 0), Start);
        for (var m = 0; m < MetricValues.Count; m++)
        {
            state.Thresholds[m] = 10_000;
        }

        Breach(state, Start, ratio);
        return state;
    }

    private static void Breach(KeyState state, long second, double ratio)
    {
        state.LastSecond = second;
        state.Values[(int)DetectionMetric.Pps] = state.Thresholds[(int)DetectionMetric.Pps] * ratio;
        state.Ratio = ratio;
        state.BreachingMetric = (int)DetectionMetric.Pps;
        state.Breaching = true;
    }

    private static void Quiet(KeyState state, long second)
    {
        state.LastSecond = second;
        state.Values = default;
        state.Ratio = 0;
        state.BreachingMetric = -1;
        state.Breaching = false;
    }

    /// <summary>Calm seconds from <paramref name="from"/> until the incident closes; the second it closed in.</summary>
    private static long CalmUntilClosed(IncidentTracker tracker, KeyState state, long from)
    {
        var second = from;
        while (state.Incident is not null)
        {
            Quiet(state, second);
            tracker.Calm(state, Sample(state, 100), second, At(second));
            second++;
            Assert.True(second - from < 1_000, "the incident never closed");
        }

        return second - 1;
    }

    private static TrafficSample Sample(KeyState state, double pps) => new()
    {
        Key = state.Key,
        Second = state.LastSecond,
        Counts = new TrafficCounts { Packets = pps, Bytes = pps * 100, UdpPackets = pps, UdpBytes = pps * 100, Flows = 1 },
    };

    private static IncidentRecord PreviousRun(string key, long id, double peakPps) => new()
    {
        Id = id,
        Key = key,
        KeyKind = KeyKind.Destination,
        Node = "edge-1",
        AttackType = AttackType.UdpFlood,
        Confidence = 0.9,
        Severity = Severity.High,
        OpenedAt = At(Start - 600),
        UpdatedAt = At(Start - 120),
        FirstSecond = Start - 600,
        PeakPps = peakPps,
        PeakBps = peakPps * 800,
        CurrentPps = peakPps,
        CurrentBps = peakPps * 800,
        Threshold = 10_000,
        ThresholdMetric = DetectionMetric.Pps,
    };
}
