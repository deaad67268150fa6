using Dapper;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Microsoft.Data.Sqlite;

namespace FlowCollector.Exporters.Tests.Storage;

public sealed class MitigationStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flowcollector-actions-").FullName;

    private string DatabasePath => Path.Combine(_directory, "flowcollector.db");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static IncidentRecord Incident(long id) => new()
    {
        Id = id, Key = "destination/203.0.113.10", KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination, Node = "n", Address = "203.0.113.10", AttackType = FlowCollector.Detection.Incidents.AttackType.UdpFlood,
        Confidence = 1, Severity = Severity.High, OpenedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch, FirstSecond = 0,
        PeakPps = 1, PeakBps = 8, CurrentPps = 1, CurrentBps = 8, Threshold = 1, ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
    };

    [Fact]
    public void TryOpen_Version1Database_MigratesAndKeepsItsRows()
    {
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            Assert.True(StoreSchema.TryMigrate(connection, 1, out var error), error);
            connection.Execute("INSERT INTO incidents (id, key, key_kind, node, attack_type, confidence, severity, opened_at, updated_at, first_second, peak_pps, peak_bps, current_pps, current_bps, threshold, threshold_metric, top_source_ports, top_sources, reopened) VALUES (3, 'destination/203.0.113.10', 'destination', 'n', 'udp_flood', 1, 'high', 0, 0, 0, 0, 0, 0, 0, 0, 'pps', '[]', '[]', 0)");
            connection.Execute("INSERT INTO incident_actions (incident_id, kind, rule, applied_at) VALUES (3, 'nftables', 'ip daddr 203.0.113.10 meta l4proto udp', 1000)");
        }

        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store, out var openError), openError);
        using (store)
        {
            var action = Assert.Single(store!.Actions(activeOnly: true));
            Assert.Equal((ActionKind.Nftables, ActionState.Applied, 3L), (action.Kind, action.State, action.IncidentId));
            Assert.Single(store.Incidents(openOnly: true));
        }
    }

    [Fact]
    public void UpdateAction_RoundTrip_AndWithdrawalRequestedOnce()
    {
        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store, out var error), error);
        using (store)
        {
            var id = store!.AddAction(new MitigationAction { IncidentId = 9, Kind = ActionKind.FlowSpec, Rule = "match { destination 203.0.113.10/32; }", State = ActionState.Pending }, Incident(9));
            var applied = store.Action(id)! with { State = ActionState.Applied, AppliedAt = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000), Attempts = 1, Command = "announce flow route { match { destination 203.0.113.10/32; } then { discard; } }" };
            store.UpdateAction(applied);

            Assert.Equal(applied, store.Action(id));
            Assert.True(store.RequestWithdraw(id));
            Assert.True(store.Action(id)!.WithdrawRequested);
            store.UpdateAction(store.Action(id)! with { WithdrawnAt = DateTimeOffset.FromUnixTimeSeconds(1_800_000_060), State = ActionState.Withdrawn });
            Assert.False(store.RequestWithdraw(id));
            Assert.Empty(store.Actions(activeOnly: true));
            Assert.Single(store.Actions(activeOnly: false));
        }
    }

    [Theory]
    [InlineData("announce flow route { match { destination 203.0.113.10/32; protocol udp; source-port =53; } then { discard; } }", "withdraw flow route { match { destination 203.0.113.10/32; protocol udp; source-port =53; } }")]
    [InlineData("announce flow route { match { destination 203.0.113.10/32; } then { rate-limit 9600; } }", "withdraw flow route { match { destination 203.0.113.10/32; } }")]
    [InlineData("announce route 203.0.113.10/32 next-hop 192.0.2.1 community [65535:666 no-export]", "withdraw route 203.0.113.10/32 next-hop 192.0.2.1")]
    public void WithdrawalOf_EachAnnouncement_IsItsWithdrawal(string announcement, string withdrawal) =>
        Assert.Equal(withdrawal, ExaBgpCommands.WithdrawalOf(announcement));

    [Fact]
    public void AddAction_WriterBehind_BringsItsIncidentAlong()
    {
        Assert.True(IncidentStore.TryOpen(DatabasePath, out var store, out var error), error);
        using (store)
        {
            // The action may come before the writer thread has stored its incident: the incident is written with it.
            var id = store!.AddAction(new MitigationAction { IncidentId = 1, Kind = ActionKind.Nftables, Rule = "ip daddr 203.0.113.10", State = ActionState.Applied }, Incident(1));
            store.Save(Incident(1) with { PeakPps = 5 });
            Assert.True(store.Flush(TimeSpan.FromSeconds(10)));
            Assert.Equal(1, store.Action(id)!.IncidentId);
            Assert.Equal(5, Assert.Single(store.Incidents(openOnly: true)).PeakPps);
        }
    }
}
