using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Fleet;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Tests.Fleet;

/// <summary>The fleet's store against a real PostgreSQL.</summary>
public sealed class FleetStoreTests
{
    private static readonly DateTimeOffset Opened = new(2026, 12, 4, 10, 0, 0, TimeSpan.Zero);

    private static FleetEvent Event(string node, long id, AlertEventKind kind, DateTimeOffset updated, Func<IncidentRecord, IncidentRecord>? change = null, params MitigationAction[] actions)
    {
        var incident = AlertEvent.Sample(node, Opened, null).Incident with { Id = id, Node = node, OpenedAt = Opened, UpdatedAt = updated };
        incident = change?.Invoke(incident) ?? incident;
        var json = new AlertEvent(kind, $"{node}.{id}.{AlertEventNames.Name(kind)}.{updated.ToUnixTimeMilliseconds()}", updated, node, incident, actions, null).ToJson();
        Assert.True(FleetEvent.TryParse(json, node, out var parsed, out var error), error);
        return parsed!;
    }

    [Fact]
    public async Task Store_KeepsTheNewestDocumentPerNodeAndIncident_AndEachEventOnce()
    {
        await using var postgres = PostgresServer.Start();
        await using (await FleetStore.OpenAsync(postgres.ConnectionString, CancellationToken.None))
        {
        }

        await using var store = await FleetStore.OpenAsync(postgres.ConnectionString, CancellationToken.None);
        Assert.Equal(FleetStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), postgres.Query("SELECT count(*) FROM fleet_schema"));

        var opened = Event("pop-a", 7, AlertEventKind.Opened, Opened);
        var action = new MitigationAction { Id = 3, IncidentId = 7, Kind = ActionKind.FlowSpec, Rule = "dst 192.0.2.10/32", State = ActionState.Applied, AppliedAt = Opened.AddSeconds(2) };
        var mitigated = Event("pop-a", 7, AlertEventKind.Mitigated, Opened.AddSeconds(2), null, action);
        var resolved = Event("pop-a", 7, AlertEventKind.Resolved, Opened.AddMinutes(3), i => i with { ClosedAt = Opened.AddMinutes(3), CloseReason = CloseReason.Calm, PeakPps = 2_000_000 }, action with { State = ActionState.Withdrawn, WithdrawnAt = Opened.AddMinutes(3) });
        Assert.True(await store.StoreAsync(opened, CancellationToken.None));
        Assert.True(await store.StoreAsync(mitigated, CancellationToken.None));
        Assert.True(await store.StoreAsync(resolved, CancellationToken.None));

        // Redelivered after a restart, and out of order: nothing is stored twice and nothing older wins.
        Assert.False(await store.StoreAsync(opened, CancellationToken.None));
        Assert.False(await store.StoreAsync(mitigated, CancellationToken.None));
        Assert.Equal("3", postgres.Query("SELECT count(*) FROM fleet_events"));
        Assert.Equal("1|2000000", postgres.Query("SELECT count(*), max(peak_pps) FROM fleet_incidents"));
        Assert.Equal("withdrawn", postgres.Query("SELECT state FROM fleet_actions WHERE node = 'pop-a' AND id = 3"));

        var (incident, actions) = Assert.Single(await store.IncidentsAsync(new FleetIncidentFilter("pop-a", null, null, null, null, null, null, 10), CancellationToken.None));
        Assert.Contains("\"closedAt\"", incident, StringComparison.Ordinal);
        Assert.Contains("withdrawn", Assert.Single(actions), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Incidents_FilterByNodeInterfaceTypeSeverityOpenAndTime()
    {
        await using var postgres = PostgresServer.Start();
        await using var store = await FleetStore.OpenAsync(postgres.ConnectionString, CancellationToken.None);
        await store.StoreAsync(Event("pop-a", 1, AlertEventKind.Opened, Opened), CancellationToken.None);
        await store.StoreAsync(Event("pop-a", 2, AlertEventKind.Resolved, Opened.AddHours(2), i => i with { OpenedAt = Opened.AddHours(1), ClosedAt = Opened.AddHours(2), Severity = Severity.Low, AttackType = AttackType.SynFlood }), CancellationToken.None);
        await store.StoreAsync(Event("pop-b", 1, AlertEventKind.Opened, Opened, i => i with { KeyKind = KeyKind.Interface, Key = "interface/netflow/192.0.2.1/ge-0/0/1/in", Interface = "ge-0/0/1", Address = null, AttackType = AttackType.MultiVector, Vectors = [AttackType.DnsAmplification, AttackType.SynFlood] }), CancellationToken.None);
        await store.StoreAsync(Event(FleetNames.Node, 1, AlertEventKind.Opened, Opened), CancellationToken.None);

        async Task<string> Ids(FleetIncidentFilter filter) => string.Join(",", (await store.IncidentsAsync(filter, CancellationToken.None))
            .Select(r => System.Text.Json.JsonDocument.Parse(r.Incident).RootElement).Select(e => $"{e.GetProperty("node").GetString()}/{e.GetProperty("id").GetInt64()}").Order(StringComparer.Ordinal));
        var all = new FleetIncidentFilter(null, null, null, null, null, null, null, 100);
        Assert.Equal("fleet/1,pop-a/1,pop-a/2,pop-b/1", await Ids(all));
        Assert.Equal("pop-a/1,pop-a/2", await Ids(all with { Node = "pop-a" }));
        Assert.Equal("pop-b/1", await Ids(all with { Interface = "ge-0/0/1" }));
        Assert.Equal("pop-a/2,pop-b/1", await Ids(all with { Type = "syn_flood" }));
        Assert.Equal("pop-a/2", await Ids(all with { Severity = "low" }));
        Assert.Equal("pop-a/2", await Ids(all with { Open = false }));
        Assert.Equal("fleet/1,pop-a/1,pop-b/1", await Ids(all with { Open = true }));
        Assert.Equal("pop-a/2", await Ids(all with { Since = Opened.AddMinutes(30), Open = false }));
        Assert.Equal("fleet/1,pop-a/1,pop-b/1", await Ids(all with { Until = Opened.AddMinutes(30) }));
        Assert.Single(await store.IncidentsAsync(all with { Limit = 1 }, CancellationToken.None));

        Assert.Equal(["pop-a", "pop-b"], (await store.OpenNodeIncidentsAsync(FleetNames.Node, CancellationToken.None)).Select(i => i.Node).Order(StringComparer.Ordinal));

        await store.SeenAsync([("pop-a", "0.9.0", Opened), ("pop-b", "0.9.0", Opened)], CancellationToken.None);
        await store.SeenAsync([("pop-a", null, Opened.AddMinutes(1))], CancellationToken.None);
        var nodes = await store.NodesAsync(CancellationToken.None);
        var popA = nodes.Single(n => n.Node == "pop-a");
        Assert.Equal("0.9.0", popA.Version);
        Assert.Equal(Opened.AddMinutes(1), popA.LastSeen);
        Assert.Equal(Opened, popA.FirstSeen);
        Assert.Equal(1, popA.OpenIncidents);
    }

    [Fact]
    public void TryParse_RefusesADocumentNamingAnotherNodeThanItsSubject_AndOneThatIsNotAnEvent()
    {
        var json = new AlertEvent(AlertEventKind.Opened, "x", Opened, "pop-a", AlertEvent.Sample("pop-a", Opened, null).Incident with { Id = 1 }, [], null).ToJson();
        Assert.False(FleetEvent.TryParse(json, "pop-b", out _, out var error));
        Assert.Contains("pop-b", error, StringComparison.Ordinal);
        Assert.False(FleetEvent.TryParse("{\"event\":\"opened\"}"u8, "pop-a", out _, out error));
        Assert.False(FleetEvent.TryParse("not json"u8, "pop-a", out _, out error));
        Assert.StartsWith("not JSON", error, StringComparison.Ordinal);
    }
}
