using Dapper;
using Npgsql;

namespace FlowCollector.Exporters.Fleet;

/// <summary>What <c>/api/incidents</c> of the fleet can be filtered by; null leaves a filter out.</summary>
public sealed record FleetIncidentFilter(string? Node, string? Interface, string? Type, string? Severity, bool? Open, DateTimeOffset? Since, DateTimeOffset? Until, int Limit);

/// <summary>A node as the fleet knows it.</summary>
public sealed record FleetNode(string Node, string? Version, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, long OpenIncidents);

/// <summary>
/// The fleet's shared store in PostgreSQL: every node's incidents (one row per node and incident id, the newest
/// document winning), their actions, the events received (each once, by its id) and the nodes heard from. The
/// schema is migrated at start-up under an advisory lock, so that two fleet services starting together do not race.
/// </summary>
public sealed class FleetStore : IAsyncDisposable
{
    /// <summary>The schema's steps, in order; a step once shipped is never edited, only followed by another.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE fleet_nodes (
            node text PRIMARY KEY,
            version text,
            first_seen timestamptz NOT NULL,
            last_seen timestamptz NOT NULL);
        CREATE TABLE fleet_incidents (
            node text NOT NULL,
            id bigint NOT NULL,
            key_kind text NOT NULL,
            interface text,
            address text,
            attack_type text NOT NULL,
            severity text NOT NULL,
            opened_at timestamptz NOT NULL,
            closed_at timestamptz,
            updated_at timestamptz NOT NULL,
            peak_pps double precision NOT NULL,
            peak_bps double precision NOT NULL,
            document jsonb NOT NULL,
            PRIMARY KEY (node, id));
        CREATE INDEX fleet_incidents_opened ON fleet_incidents (opened_at DESC);
        CREATE INDEX fleet_incidents_open ON fleet_incidents (node) WHERE closed_at IS NULL;
        CREATE TABLE fleet_actions (
            node text NOT NULL,
            id bigint NOT NULL,
            incident_id bigint NOT NULL,
            state text NOT NULL,
            event_at timestamptz NOT NULL,
            document jsonb NOT NULL,
            PRIMARY KEY (node, id));
        CREATE INDEX fleet_actions_incident ON fleet_actions (node, incident_id);
        CREATE TABLE fleet_events (
            event_id text PRIMARY KEY,
            node text NOT NULL,
            incident_id bigint NOT NULL,
            kind text NOT NULL,
            at timestamptz NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX fleet_events_incident ON fleet_events (node, incident_id);
        """,
    ];

    private const long MigrationLock = 0x466c6f77436f6c; // "FlowCol": the advisory lock the migrations hold

    private readonly NpgsqlDataSource _source;

    private FleetStore(NpgsqlDataSource source) => _source = source;

    /// <summary>The schema version this build migrates to.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>Connects and migrates the schema; throws <see cref="NpgsqlException"/> when PostgreSQL cannot be used.</summary>
    public static async Task<FleetStore> OpenAsync(string connectionString, CancellationToken cancellation)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.ApplicationName ??= "flowcollector fleet";
        var store = new FleetStore(builder.Build());
        try
        {
            await store.MigrateAsync(cancellation).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return store;
    }

    private async Task MigrateAsync(CancellationToken cancellation)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        await connection.ExecuteAsync("SELECT pg_advisory_lock(@Key)", new LockRow { Key = MigrationLock }).ConfigureAwait(false);
        try
        {
            await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS fleet_schema (version integer NOT NULL)").ConfigureAwait(false);
            var version = await connection.ExecuteScalarAsync<int?>("SELECT max(version) FROM fleet_schema").ConfigureAwait(false) ?? 0;
            if (version > Migrations.Length)
            {
                throw new InvalidOperationException($"the fleet schema is at version {version}, newer than this build's {Migrations.Length}: run the newer flowcollector");
            }

            for (var step = version; step < Migrations.Length; step++)
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
                await connection.ExecuteAsync(Migrations[step], transaction: transaction).ConfigureAwait(false);
                await connection.ExecuteAsync("INSERT INTO fleet_schema (version) VALUES (@Version)", new VersionRow { Version = step + 1 }, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            }
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@Key)", new LockRow { Key = MigrationLock }).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stores one event in one transaction: the event once (by its id), the incident's row if this document is at
    /// least as new as the stored one, and its actions likewise. True when the event was new.
    /// </summary>
    public async Task<bool> StoreAsync(FleetEvent change, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(change);
        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
        var added = await connection.ExecuteAsync(
            "INSERT INTO fleet_events (event_id, node, incident_id, kind, at) VALUES (@EventId, @Node, @IncidentId, @Kind, @At) ON CONFLICT (event_id) DO NOTHING",
            new EventRow { EventId = change.EventId, Node = change.Node, IncidentId = change.IncidentId, Kind = change.Kind, At = change.At.UtcDateTime },
            transaction).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            INSERT INTO fleet_incidents (node, id, key_kind, interface, address, attack_type, severity, opened_at, closed_at, updated_at, peak_pps, peak_bps, document)
            VALUES (@Node, @Id, @KeyKind, @Interface, @Address, @AttackType, @Severity, @OpenedAt, @ClosedAt, @UpdatedAt, @PeakPps, @PeakBps, @Document::jsonb)
            ON CONFLICT (node, id) DO UPDATE SET
                key_kind = excluded.key_kind, interface = excluded.interface, address = excluded.address,
                attack_type = excluded.attack_type, severity = excluded.severity, opened_at = excluded.opened_at,
                closed_at = excluded.closed_at, updated_at = excluded.updated_at, peak_pps = excluded.peak_pps,
                peak_bps = excluded.peak_bps, document = excluded.document
            WHERE fleet_incidents.updated_at <= excluded.updated_at
            """,
            IncidentRow.From(change),
            transaction).ConfigureAwait(false);
        foreach (var action in change.Actions)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO fleet_actions (node, id, incident_id, state, event_at, document) VALUES (@Node, @Id, @IncidentId, @State, @EventAt, @Document::jsonb)
                ON CONFLICT (node, id) DO UPDATE SET state = excluded.state, event_at = excluded.event_at, document = excluded.document
                WHERE fleet_actions.event_at <= excluded.event_at
                """,
                new ActionRow { Node = change.Node, Id = action.Id, IncidentId = change.IncidentId, State = action.State, EventAt = change.At.UtcDateTime, Document = action.Document },
                transaction).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellation).ConfigureAwait(false);
        return added > 0;
    }

    /// <summary>Records that nodes were heard from (a batch, once a second).</summary>
    public async Task SeenAsync(IReadOnlyCollection<(string Node, string? Version, DateTimeOffset At)> nodes, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Count == 0)
        {
            return;
        }

        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
        foreach (var (node, version, at) in nodes)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO fleet_nodes (node, version, first_seen, last_seen) VALUES (@Node, @Version, @At, @At)
                ON CONFLICT (node) DO UPDATE SET version = coalesce(excluded.version, fleet_nodes.version), last_seen = greatest(fleet_nodes.last_seen, excluded.last_seen)
                """,
                new NodeRow { Node = node, Version = version, At = at.UtcDateTime },
                transaction).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>Incidents newest first, as their nodes wrote them, each with its node's actions.</summary>
    public async Task<IReadOnlyList<(string Incident, IReadOnlyList<string> Actions)>> IncidentsAsync(FleetIncidentFilter filter, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        // Each incident's actions come in the same query, as one JSON array, rather than a query per incident.
        var rows = await connection.QueryAsync<DocumentRow>(
            """
            SELECT i.document::text AS Document,
                   coalesce((SELECT json_agg(a.document ORDER BY a.id) FROM fleet_actions a WHERE a.node = i.node AND a.incident_id = i.id), '[]')::text AS Actions
            FROM fleet_incidents i
            WHERE (@Node::text IS NULL OR i.node = @Node::text)
              AND (@Interface::text IS NULL OR i.interface = @Interface::text)
              AND (@Type::text IS NULL OR i.attack_type = @Type::text OR i.document->'vectors' ? @Type::text)
              AND (@Severity::text IS NULL OR i.severity = @Severity::text)
              AND (@Open::boolean IS NULL OR (i.closed_at IS NULL) = @Open::boolean)
              AND (@Since::timestamptz IS NULL OR coalesce(i.closed_at, 'infinity') >= @Since::timestamptz)
              AND (@Until::timestamptz IS NULL OR i.opened_at <= @Until::timestamptz)
            ORDER BY i.opened_at DESC, i.node, i.id DESC
            LIMIT @Limit
            """,
            new FilterRow
            {
                Node = filter.Node,
                Interface = filter.Interface,
                Type = filter.Type,
                Severity = filter.Severity,
                Open = filter.Open,
                Since = filter.Since?.UtcDateTime,
                Until = filter.Until?.UtcDateTime,
                Limit = filter.Limit,
            }).ConfigureAwait(false);
        return [.. rows.Select(row => (row.Document, Elements(row.Actions)))];
    }

    /// <summary>The raw text of each element of a JSON array.</summary>
    private static IReadOnlyList<string> Elements(string array)
    {
        using var document = System.Text.Json.JsonDocument.Parse(array);
        return [.. document.RootElement.EnumerateArray().Select(element => element.GetRawText())];
    }

    /// <summary>Every node heard from, with its open incidents.</summary>
    public async Task<IReadOnlyList<FleetNode>> NodesAsync(CancellationToken cancellation)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        var rows = await connection.QueryAsync<NodeListRow>(
            """
            SELECT n.node AS Node, n.version AS Version, n.first_seen AS FirstSeen, n.last_seen AS LastSeen,
                   (SELECT count(*) FROM fleet_incidents i WHERE i.node = n.node AND i.closed_at IS NULL) AS OpenIncidents
            FROM fleet_nodes n ORDER BY n.node
            """).ConfigureAwait(false);
        return [.. rows.Select(r => new FleetNode(r.Node, r.Version, new DateTimeOffset(DateTime.SpecifyKind(r.FirstSeen, DateTimeKind.Utc)), new DateTimeOffset(DateTime.SpecifyKind(r.LastSeen, DateTimeKind.Utc)), r.OpenIncidents))];
    }

    /// <summary>The open incidents of the nodes (not the fleet's own): what explains a breach of the sums.</summary>
    public async Task<IReadOnlyList<(string Node, long Id, string KeyKind, string? Address)>> OpenNodeIncidentsAsync(string fleetNode, CancellationToken cancellation)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
        var rows = await connection.QueryAsync<OpenRow>(
            "SELECT node AS Node, id AS Id, key_kind AS KeyKind, address AS Address FROM fleet_incidents WHERE closed_at IS NULL AND node <> @Node",
            new NodeOnlyRow { Node = fleetNode }).ConfigureAwait(false);
        return [.. rows.Select(r => (r.Node, r.Id, r.KeyKind, r.Address))];
    }

    /// <summary>Whether PostgreSQL answers (for /healthz).</summary>
    public async Task<bool> PingAsync(CancellationToken cancellation)
    {
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);
            return await connection.ExecuteScalarAsync<int>("SELECT 1").ConfigureAwait(false) == 1;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
