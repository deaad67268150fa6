using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Incidents;

public sealed class KeyStateTableTests
{
    private const long Start = 1_800_000_000;
    private static readonly MonitoredPrefixes Prefixes = new([IpPrefix.Parse("203.0.113.0/24")]);
    private readonly DetectionOptions _options = new() { LearningSeconds = 300, ForgetSeconds = 600 };

    [Fact]
    public void Create_KeyWithASavedBaseline_StartsFromItAndKeepsItsLearning()
    {
        var baseline = new KeyBaseline { Samples = 500 };
        baseline.Mean[(int)DetectionMetric.Pps] = 1_234;
        var table = Table([new SavedBaseline("destination/203.0.113.10", baseline, Start - 3_600, Start - 60, Learned: true)]);

        var state = table.Create(Destination("203.0.113.10"), Start);

        Assert.True(state.Learned);
        Assert.Equal(1_234, state.Baseline.Mean[(int)DetectionMetric.Pps]);
        Assert.Equal(Start - _options.LearningSeconds, state.FirstSecond);
    }

    [Fact]
    public void Create_DestinationFirstSeenAfterItsPrefixLearned_IsJudgedAsLearnedAtOnce()
    {
        var table = Table([]);
        table.Create(TrafficKey.ForPrefix(0), Start - 1_000).Learned = true;

        Assert.True(table.Create(Destination("203.0.113.77"), Start).Learned);
        Assert.False(Table([]).Create(Destination("203.0.113.77"), Start).Learned);
    }

    [Fact]
    public void EvictSilent_KeysSilentTooLong_AreForgottenUnlessAnIncidentHoldsThem()
    {
        var table = Table([]);
        table.Create(Destination("203.0.113.1"), Start);
        var held = table.Create(Destination("203.0.113.2"), Start);
        held.Incident = new Incident(1, held.Description, Start, DateTimeOffset.UnixEpoch, DetectionMetric.Pps, 1);
        var recent = table.Create(Destination("203.0.113.3"), Start);
        recent.LastSecond = Start + 700;

        table.EvictSilent(Start + 601);

        Assert.False(table.TryGet(Destination("203.0.113.1"), out _));
        Assert.True(table.TryGet(Destination("203.0.113.2"), out _));
        Assert.True(table.TryGet(Destination("203.0.113.3"), out _));
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void Snapshot_OnlyKeysThatLearnedSomething_WithTheirStableText()
    {
        var table = Table([]);
        table.Create(Destination("203.0.113.1"), Start);
        var learning = table.Create(Destination("203.0.113.2"), Start);
        learning.Baseline.Learn(default, 60);

        var saved = Assert.Single(table.Snapshot());
        Assert.Equal("destination/203.0.113.2", saved.Key);
        Assert.Equal(1, saved.Baseline.Samples);
    }

    [Fact]
    public void Learning_CountsKeysUntilTheyLearnOrAreForgotten()
    {
        var baseline = new KeyBaseline { Samples = 500 };
        var table = Table([new SavedBaseline("destination/203.0.113.9", baseline, Start - 3_600, Start - 60, Learned: true)]);
        var first = table.Create(Destination("203.0.113.1"), Start);
        table.Create(Destination("203.0.113.2"), Start);
        table.Create(Destination("203.0.113.9"), Start);
        Assert.Equal(2, table.Learning);

        table.MarkLearned(first);
        table.MarkLearned(first);
        Assert.Equal(1, table.Learning);

        table.EvictSilent(Start + _options.ForgetSeconds + 1);
        Assert.Equal(0, table.Learning);
        Assert.Equal(0, table.Count);
    }

    private static TrafficKey Destination(string address) => TrafficKey.ForDestination(NetworkAddress.Parse(address), 0);

    private KeyStateTable Table(IReadOnlyList<SavedBaseline> saved) =>
        new(_options, new ThresholdPolicy(_options, Prefixes), "edge-1", new InterfaceNames(), Prefixes, saved);
}
