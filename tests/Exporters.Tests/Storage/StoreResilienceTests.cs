using Dapper;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Exporters.Tests.Storage;

/// <summary>
/// What the store does when the database will not take a write, holds rows it cannot read, is damaged, or grows: a
/// real SQLite file, with failures caused inside SQLite itself (a trigger that aborts, bytes overwritten on disk).
/// </summary>
public sealed class StoreResilienceTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly string _directory = Directory.CreateTempSubdirectory("flowcollector-resilience-").FullName;

    private string DatabasePath => Path.Combine(_directory, "flowcollector.db");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static IncidentRecord Incident(long id, DateTimeOffset? closed = null) => new()
    {
        Id = id,
        Key = $"destination/203.0.113.{id}",
        KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination,
        Node = "edge-1",
        Address = $"203.0.113.{id}",
        AttackType = AttackType.UdpFlood,
        Confidence = 1,
        Severity = Severity.High,
        OpenedAt = Now.AddDays(-1),
        ClosedAt = closed,
        UpdatedAt = closed ?? Now,
        FirstSecond = Now.AddDays(-1).ToUnixTimeSeconds(),
        PeakPps = 20_000,
        PeakBps = 1e8,
        CurrentPps = 20_000,
        CurrentBps = 1e8,
        Threshold = 1_000,
        ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
        TopSourcePorts = [new PortRate("udp", 53, 19_000)],
    };

    private IncidentStore Open(StoreRetention? retention = null, TimeProvider? time = null)
    {
        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store, out var error, retention, time: time), error);
        return store!;
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        return connection;
    }

    [Fact]
    public void Writer_BatchRefused_IsHeldRetriedAndLandsLater()
    {
        using var store = Open();
        using (var connection = Connect())
        {
            // Every write fails inside SQLite, as a full disk would make it fail: of a second, and of an incident
            // alone (the writer may take the first incident in a batch of its own, before its second is queued).
            connection.Execute("CREATE TRIGGER refuse BEFORE INSERT ON incident_samples BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
            connection.Execute("CREATE TRIGGER refuse_incidents BEFORE INSERT ON incidents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
        }

        for (var id = 1; id <= 18; id++)
        {
            store.Save(Incident(id));
            store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(id), new IncidentSecond(id, Now.ToUnixTimeSeconds(), 20_000, 1e8, 10, 20_000, 0, 0, 0, true)));
        }

        Assert.False(store.Flush(TimeSpan.FromSeconds(10)));
        Assert.True(store.Failing);
        Assert.Contains("database or disk is full", store.LastError, StringComparison.Ordinal);
        Assert.Equal(36, store.HeldRows);
        Assert.Empty(store.Incidents(openOnly: true));

        using (var connection = Connect())
        {
            connection.Execute("DROP TRIGGER refuse");
            connection.Execute("DROP TRIGGER refuse_incidents");
        }

        Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        Assert.False(store.Failing);
        Assert.Null(store.LastError);
        Assert.Equal(18, store.Incidents(openOnly: true).Count);
        Assert.Single(store.Seconds(7));
        Assert.True(store.Failed >= 1);
        Assert.Equal(0, store.Dropped);
    }

    [Fact]
    public void Writer_UpdatesWaitingInABatch_BecomeOneRowWithTheLatestState()
    {
        using var store = Open();
        for (var second = 0; second < 50; second++)
        {
            store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(3) with { CurrentPps = second }, new IncidentSecond(3, Now.ToUnixTimeSeconds() + second, second, 0, 0, 0, 0, 0, 0, true)));
        }

        Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(49, Assert.Single(store.Incidents(openOnly: false)).CurrentPps);
        Assert.Equal(50, store.Seconds(3).Count);
    }

    [Fact]
    public void Incidents_UnreadableRows_AreSkippedAndCountedAndTheRestServed()
    {
        using (var store = Open())
        {
            store.Save(Incident(1));
            store.Save(Incident(2));
            store.SaveBaselines([new SavedBaseline("destination/203.0.113.1", new KeyBaseline { Samples = 10 }, 1, Now.ToUnixTimeSeconds(), true)]);
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        }

        using (var connection = Connect())
        {
            connection.Execute("UPDATE incidents SET top_source_ports = '[{\"protocol\": \"udp\", \"port\": ' WHERE id = 2");
            connection.Execute("INSERT INTO baselines (key, learned, samples, first_second, last_second, mean, spread, saved_at) VALUES ('destination/203.0.113.9', 1, 5, 1, @Last, 'not json', '[]', 0)", new { Last = Now.ToUnixTimeSeconds() });
        }

        using var reopened = Open();
        Assert.True(reopened.TryLoadDetectorState(Now, TimeSpan.FromDays(7), out var state, out var error), error);
        Assert.Equal(1, Assert.Single(state.OpenIncidents).Id);
        Assert.Equal("destination/203.0.113.1", Assert.Single(state.Baselines).Key);
        Assert.Equal(2, reopened.SkippedRows);
    }

    [Fact]
    public void TryOpen_DamagedFile_IsRefusedWithItsNameAndWhatToDo()
    {
        using (var store = Open())
        {
            store.Save(Incident(1));
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        }

        File.Delete(DatabasePath + "-wal");
        File.Delete(DatabasePath + "-shm");
        using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.Write))
        {
            // The header's magic string: SQLite no longer recognises the file as a database.
            file.Write("this is not sqlite"u8);
        }

        Assert.False(IncidentStore.TryOpen(DatabasePath, out var damaged, out var message));
        Assert.Null(damaged);
        Assert.Contains(DatabasePath, message, StringComparison.Ordinal);
        Assert.Contains("is damaged", message, StringComparison.Ordinal);
        Assert.Contains("move the file aside", message, StringComparison.Ordinal);
        Assert.Contains(".recover", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoadDetectorState_DamagedPage_IsReportedTheSameWay()
    {
        using (var store = Open())
        {
            for (var id = 1; id <= 400; id++)
            {
                store.Save(Incident(id) with { Key = $"destination/203.0.113.{id % 250}/{new string('x', 200)}" });
            }

            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
        }

        using (var connection = Connect())
        {
            connection.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }

        // Overwrite the middle of the file: b-tree pages of the incidents table.
        var length = new FileInfo(DatabasePath).Length;
        using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.Write))
        {
            file.Position = length / 2;
            file.Write(Enumerable.Repeat((byte)0xA5, 8192).ToArray());
        }

        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store2, out var openError), openError);
        using (store2)
        {
            Assert.False(store2!.TryLoadDetectorState(Now, TimeSpan.FromDays(7), out _, out var error));
            Assert.Contains("is damaged", error, StringComparison.Ordinal);
            Assert.Contains(DatabasePath, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Retention_OldRows_AreDeletedAndWhatIsInForceKept()
    {
        var time = new FakeTimeProvider(Now);
        using (var store = Open(new StoreRetention(IncidentDays: 30, SecondsDays: 7, BaselineHours: 24), time))
        {
            store.Save(Incident(1, closed: Now.AddDays(-40)));
            store.Save(Incident(2, closed: Now.AddDays(-40)));
            store.Save(Incident(3, closed: Now.AddDays(-2)));
            store.Save(Incident(4));
            store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(4), new IncidentSecond(4, Now.AddDays(-10).ToUnixTimeSeconds(), 1, 1, 1, 1, 0, 0, 0, true)));
            store.OnIncident(new IncidentEvent(IncidentChange.Updated, Incident(4), new IncidentSecond(4, Now.AddDays(-1).ToUnixTimeSeconds(), 1, 1, 1, 1, 0, 0, 0, true)));
            store.SaveBaselines([
                new SavedBaseline("destination/203.0.113.1", new KeyBaseline { Samples = 1 }, 1, Now.AddDays(-3).ToUnixTimeSeconds(), true),
                new SavedBaseline("destination/203.0.113.2", new KeyBaseline { Samples = 1 }, 1, Now.AddHours(-1).ToUnixTimeSeconds(), true),
            ]);
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));

            // Incident 2 still has a rule in force: it is kept until that is withdrawn.
            store.AddAction(new MitigationAction { IncidentId = 2, Kind = ActionKind.Nftables, Rule = "ip daddr 203.0.113.2", State = ActionState.Applied }, Incident(2));
        }

        // The next start deletes what retention no longer keeps.
        using var reopened = Open(new StoreRetention(IncidentDays: 30, SecondsDays: 7, BaselineHours: 24), time);
        await Eventually.True(() => Task.FromResult(reopened.Incidents(openOnly: false).Count <= 3), "retention's deletions", seconds: 10, pollMilliseconds: 50);

        Assert.Equal([4L, 3L, 2L], reopened.Incidents(openOnly: false).Select(i => i.Id));
        Assert.Equal([Now.AddDays(-1).ToUnixTimeSeconds()], reopened.Seconds(4).Select(s => s.Second));
        using var connection = Connect();
        Assert.Equal(["destination/203.0.113.2"], connection.Query<string>("SELECT key FROM baselines"));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void TryOpen_DatabaseAndJournal_AreReadableByTheirOwnerOnly()
    {
        using (var store = Open())
        {
            store.Save(Incident(1));
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DatabasePath));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DatabasePath + "-wal"));
        }

        // A file an earlier build left world-readable is tightened when opened.
        File.SetUnixFileMode(DatabasePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (Open())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DatabasePath));
        }
    }
}
