using Dapper;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Storage;
using Microsoft.Data.Sqlite;

namespace FlowCollector.Exporters.Tests.Storage;

/// <summary>The store against a real SQLite file on disk.</summary>
public sealed class IncidentStoreTests : IDisposable
{
    private static readonly DateTimeOffset Opened = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly string _directory = Directory.CreateTempSubdirectory("flowcollector-store-").FullName;

    private string DatabasePath => Path.Combine(_directory, "flowcollector.db");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static IncidentRecord Incident(long id, string address = "203.0.113.10", DateTimeOffset? closed = null) => new()
    {
        Id = id,
        Key = $"destination/{address}",
        KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination,
        Node = "edge-1",
        Address = address,
        AttackType = AttackType.DnsAmplification,
        Confidence = 0.97,
        Severity = Severity.High,
        OpenedAt = Opened.AddSeconds(id),
        ClosedAt = closed,
        UpdatedAt = Opened.AddSeconds(id + 5),
        FirstSecond = Opened.ToUnixTimeSeconds() + id - 1,
        PeakPps = 20_112.5,
        PeakBps = 225_000_000,
        CurrentPps = 19_000,
        CurrentBps = 210_000_000,
        Threshold = 1_000,
        ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
        TopSourcePorts = [new PortRate("udp", 53, 19_800.5)],
        TopSources = [new SourceRate("192.0.2.100", 2_500), new SourceRate("2001:db8::53", 2_400)],
    };

    private IncidentStore Open()
    {
        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store, out var error), error);
        return store!;
    }

    [Fact]
    public void TryOpen_NewDatabase_IsCreatedInWalModeAtTheCurrentVersion()
    {
        using (Open())
        {
        }

        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        Assert.Equal("wal", connection.ExecuteScalar<string>("PRAGMA journal_mode"));
        Assert.Equal(StoreSchema.Current, connection.ExecuteScalar<long>("SELECT MAX(version) FROM schema_version"));
        Assert.Equal(5L, connection.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('incidents', 'incident_samples', 'incident_actions', 'baselines', 'schema_version')"));

        // Opening again migrates nothing twice.
        using (Open())
        {
        }

        Assert.Equal(StoreSchema.Current, connection.ExecuteScalar<long>("SELECT COUNT(*) FROM schema_version"));
    }

    [Fact]
    public void TryOpen_DatabaseOfANewerBuild_IsRefusedWithTheReason()
    {
        using (Open())
        {
        }

        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            connection.Execute("INSERT INTO schema_version (version) VALUES (99)");
        }

        Assert.False(IncidentStore.TryOpen(DatabasePath, out var store, out var error));
        Assert.Null(store);
        Assert.Contains("schema version 99", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Incidents_RoundTrip_NewestFirstWithTheirSeconds()
    {
        using var store = Open();
        store.Save(Incident(1));
        store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(1), new IncidentSecond(1, 1_800_000_001, 20_000, 2.2e8, 40, 19_900, 0, 0, 12, true)));
        store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(1), new IncidentSecond(1, 1_800_000_002, 21_000, 2.3e8, 41, 20_900, 0, 0, 13, true)));
        store.Save(Incident(1, closed: Opened.AddSeconds(60)) with { CloseReason = CloseReason.Calm });
        store.Save(Incident(2, "2001:db8::10"));
        Assert.True(store.Flush(TimeSpan.FromSeconds(10)));

        var all = store.Incidents(openOnly: false);
        Assert.Equal([2L, 1L], all.Select(i => i.Id));
        var closed = all[1];
        Assert.Equal(Incident(1).OpenedAt, closed.OpenedAt);
        Assert.Equal(Opened.AddSeconds(60), closed.ClosedAt);
        Assert.Equal(CloseReason.Calm, closed.CloseReason);
        Assert.Equal(0.97, closed.Confidence);
        Assert.Equal(20_112.5, closed.PeakPps);
        Assert.Equal(new PortRate("udp", 53, 19_800.5), Assert.Single(closed.TopSourcePorts));
        Assert.Equal(["192.0.2.100", "2001:db8::53"], closed.TopSources.Select(s => s.Address));

        var open = Assert.Single(store.Incidents(openOnly: true));
        Assert.Equal("2001:db8::10", open.Address);
        Assert.Null(open.ClosedAt);

        var seconds = store.Seconds(1);
        Assert.Equal([20_000.0, 21_000.0], seconds.Select(s => s.Pps));
        Assert.True(seconds.All(s => s.Breaching));
    }

    [Fact]
    public void LoadDetectorState_Baselines_RoundTripExactlyAndOldOnesStayBehind()
    {
        var baseline = new KeyBaseline { Samples = 900 };
        for (var i = 0; i < MetricValues.Count; i++)
        {
            baseline.Mean[i] = 1_000.0 / (i + 3);
            baseline.Spread[i] = 0.1 + i;
        }

        using (var store = Open())
        {
            store.SaveBaselines([
                new SavedBaseline("destination/203.0.113.10", baseline, 1_800_000_000, 1_800_000_900, Learned: true),
                new SavedBaseline("interface/netflow/192.0.2.1/3/in", baseline, 1_700_000_000, 1_700_000_100, Learned: true),
            ]);
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        }

        using var reopened = Open();
        var state = reopened.LoadDetectorState(DateTimeOffset.FromUnixTimeSeconds(1_800_001_000), TimeSpan.FromDays(7));
        var saved = Assert.Single(state.Baselines);
        Assert.Equal("destination/203.0.113.10", saved.Key);
        Assert.True(saved.Learned);
        Assert.Equal(900, saved.Baseline.Samples);
        for (var i = 0; i < MetricValues.Count; i++)
        {
            Assert.Equal(baseline.Mean[i], saved.Baseline.Mean[i]);
            Assert.Equal(baseline.Spread[i], saved.Baseline.Spread[i]);
        }
    }

    [Fact]
    public void TryOpen_AfterACrash_FindsWhatWasCommitted()
    {
        // The first "process" never disposes its store: what it flushed must already be in the file.
        var crashed = Open();
        crashed.Save(Incident(7));
        crashed.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(7) with { PeakPps = 30_000 }, new IncidentSecond(7, 1_800_000_007, 30_000, 3e8, 50, 29_000, 0, 0, 0, true)));
        Assert.True(crashed.Flush(TimeSpan.FromSeconds(10)));

        using var next = Open();
        var state = next.LoadDetectorState(Opened, TimeSpan.FromDays(7));
        var open = Assert.Single(state.OpenIncidents);
        Assert.Equal(7, open.Id);
        Assert.Equal(30_000, open.PeakPps);
        Assert.Equal(7, state.LastIncidentId);
        crashed.Dispose();
    }
}
