using Dapper;
using Microsoft.Data.Sqlite;

namespace FlowCollector.Exporters.Storage;

/// <summary>
/// The database layout, versioned: each migration runs once, in order, in one transaction with the version bump.
/// A database newer than this build is refused rather than guessed at.
/// </summary>
internal static class StoreSchema
{
    private static readonly string[][] Migrations =
    [
        [
            """
            CREATE TABLE incidents (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL,
                key_kind TEXT NOT NULL,
                node TEXT NOT NULL,
                source TEXT,
                exporter TEXT,
                interface TEXT,
                direction TEXT,
                address TEXT,
                attack_type TEXT NOT NULL,
                vector TEXT,
                confidence REAL NOT NULL,
                severity TEXT NOT NULL,
                opened_at INTEGER NOT NULL,
                closed_at INTEGER,
                updated_at INTEGER NOT NULL,
                first_second INTEGER NOT NULL,
                peak_pps REAL NOT NULL,
                peak_bps REAL NOT NULL,
                current_pps REAL NOT NULL,
                current_bps REAL NOT NULL,
                threshold REAL NOT NULL,
                threshold_metric TEXT NOT NULL,
                top_source_ports TEXT NOT NULL,
                top_sources TEXT NOT NULL,
                reopened INTEGER NOT NULL,
                close_reason TEXT)
            """,
            "CREATE INDEX incidents_open ON incidents (id) WHERE closed_at IS NULL",
            """
            CREATE TABLE incident_samples (
                incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
                second INTEGER NOT NULL,
                pps REAL NOT NULL,
                bps REAL NOT NULL,
                flows REAL NOT NULL,
                udp_pps REAL NOT NULL,
                syn_pps REAL NOT NULL,
                icmp_pps REAL NOT NULL,
                fragment_pps REAL NOT NULL,
                breaching INTEGER NOT NULL,
                PRIMARY KEY (incident_id, second)) WITHOUT ROWID
            """,
            """
            CREATE TABLE incident_actions (
                id INTEGER PRIMARY KEY,
                incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                rule TEXT NOT NULL,
                applied_at INTEGER,
                withdrawn_at INTEGER,
                dropped INTEGER,
                error TEXT)
            """,
            """
            CREATE TABLE baselines (
                key TEXT PRIMARY KEY,
                learned INTEGER NOT NULL,
                samples INTEGER NOT NULL,
                first_second INTEGER NOT NULL,
                last_second INTEGER NOT NULL,
                mean TEXT NOT NULL,
                spread TEXT NOT NULL,
                saved_at INTEGER NOT NULL) WITHOUT ROWID
            """,
        ],
        [
            // Mitigation: what each action was, its state, and what an operator asked for.
            "ALTER TABLE incident_actions ADD COLUMN state TEXT NOT NULL DEFAULT 'applied'",
            "ALTER TABLE incident_actions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE incident_actions ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE incident_actions ADD COLUMN withdraw_requested INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE incident_actions ADD COLUMN command TEXT NOT NULL DEFAULT ''",
            "CREATE INDEX incident_actions_active ON incident_actions (id) WHERE withdrawn_at IS NULL",
        ],
        [
            // The link capacity an incident was judged against (severity, the RTBH rule); 0 when unknown.
            "ALTER TABLE incidents ADD COLUMN capacity_bps REAL NOT NULL DEFAULT 0",
        ],
        [
            // The alert outbox: every event to every channel, written before it is sent and kept after.
            """
            CREATE TABLE alert_deliveries (
                id INTEGER PRIMARY KEY,
                event_id TEXT NOT NULL UNIQUE,
                incident_id INTEGER NOT NULL,
                channel TEXT NOT NULL,
                event TEXT NOT NULL,
                document TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                sending INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                answer TEXT,
                created_at INTEGER NOT NULL,
                next_attempt_at INTEGER NOT NULL,
                sent_at INTEGER)
            """,
            "CREATE INDEX alert_deliveries_pending ON alert_deliveries (channel, incident_id, id) WHERE state = 'pending'",
            "CREATE INDEX alert_deliveries_incident ON alert_deliveries (incident_id, id)",
        ],
        [
            // Packet evidence: the victims a packet sample named (router mode), and each incident's capture file.
            "ALTER TABLE incidents ADD COLUMN victims TEXT NOT NULL DEFAULT '[]'",
            """
            CREATE TABLE incident_pcaps (
                incident_id INTEGER PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
                pcap_path TEXT,
                pcap_packets INTEGER NOT NULL,
                pcap_bytes INTEGER NOT NULL,
                pcap_first_at INTEGER,
                pcap_last_at INTEGER,
                pcap_note TEXT)
            """,
        ],
        [
            // A multi-vector attack names each of its vectors.
            "ALTER TABLE incidents ADD COLUMN vectors TEXT NOT NULL DEFAULT ''",
        ],
    ];

    /// <summary>The schema version this build writes.</summary>
    public static int Current => Migrations.Length;

    /// <summary>Brings the database to <see cref="Current"/>; false with a reason when it is newer than this build.</summary>
    public static bool TryMigrate(SqliteConnection connection, out string error) => TryMigrate(connection, Current, out error);

    /// <summary>Migrates up to <paramref name="target"/> only: tests build an old database with it.</summary>
    internal static bool TryMigrate(SqliteConnection connection, int target, out string error)
    {
        connection.Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        var version = connection.ExecuteScalar<long?>("SELECT MAX(version) FROM schema_version") ?? 0;
        if (version > Current)
        {
            error = $"the database has schema version {version}, newer than this flowcollector understands ({Current}); use a newer build";
            return false;
        }

        for (var next = (int)version + 1; next <= target; next++)
        {
            using var transaction = connection.BeginTransaction();
            foreach (var statement in Migrations[next - 1])
            {
                connection.Execute(statement, transaction: transaction);
            }

            connection.Execute("INSERT INTO schema_version (version) VALUES (@Version)", new VersionRow { Version = next }, transaction);
            transaction.Commit();
        }

        error = string.Empty;
        return true;
    }
}

internal sealed class VersionRow
{
    public long Version { get; init; }
}
