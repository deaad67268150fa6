using System.Collections.Concurrent;
using Dapper;
using FlowCollector.Detection.Incidents;
using Microsoft.Data.Sqlite;

[module: DapperAot]

namespace FlowCollector.Exporters.Storage;

/// <summary>
/// Incidents, their seconds, and the learned baselines in one SQLite file (WAL). The detector hands changes over on
/// its thread and returns at once; a writer thread commits them in batches, so a slow disk never delays detection.
/// Each batch is one transaction: after kill -9 the file holds every batch that was committed, and the open
/// incidents it lists are what the next start resumes or closes.
/// </summary>
public sealed class IncidentStore : IIncidentObserver, IDisposable
{
    /// <summary>Writes queued beyond this are dropped (and counted) rather than growing memory.</summary>
    private const int MaxQueued = 100_000;

    private readonly string _connectionString;
    private readonly BlockingCollection<Write> _queue = new(new ConcurrentQueue<Write>());
    private readonly Thread _writer;
    private long _dropped;
    private long _failed;
    private long _written;

    private IncidentStore(string path)
    {
        Path = path;
        // Unpooled: besides the writer's own connection, the store is read a few times a minute (the API, the
        // engine), and idle pooled connections each keep a page cache the router-mode footprint cannot afford.
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, DefaultTimeout = 10, Pooling = false }.ToString();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "incident-store" };
    }

    public string Path { get; }

    /// <summary>Writes lost because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Batches that failed to commit (disk full, file removed).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Rows written.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Last write error, for the log and /healthz.</summary>
    public string? LastError { get; private set; }

    /// <summary>Opens (creating and migrating) the database at <paramref name="path"/>.</summary>
    public static bool TryOpen(string path, out IncidentStore? store, out string error)
    {
        store = new IncidentStore(path);
        try
        {
            using var connection = store.Connect();
            connection.Execute("PRAGMA journal_mode = WAL");
            if (!StoreSchema.TryMigrate(connection, out error))
            {
                store = null;
                return false;
            }
        }
        catch (SqliteException exception)
        {
            error = $"cannot open the database {path}: {exception.Message}";
            store = null;
            return false;
        }

        store._writer.Start();
        return true;
    }

    public void Opened(IncidentRecord incident) => Enqueue(new Write(incident, null, null, null));

    public void Updated(IncidentRecord incident, in IncidentSecond second) => Enqueue(new Write(incident, second, null, null));

    public void Closed(IncidentRecord incident) => Enqueue(new Write(incident, null, null, null));

    /// <summary>Saves baselines (replacing what each key had).</summary>
    public void SaveBaselines(IReadOnlyList<SavedBaseline> baselines) => Enqueue(new Write(null, null, baselines, null));

    /// <summary>Waits until everything queued so far is committed.</summary>
    public bool Flush(TimeSpan timeout)
    {
        var done = new ManualResetEventSlim();
        if (!_queue.IsAddingCompleted)
        {
            _queue.Add(new Write(null, null, null, done));
        }

        return done.Wait(timeout);
    }

    /// <summary>Incidents newest first.</summary>
    public List<IncidentRecord> Incidents(bool openOnly, int limit = 1000)
    {
        using var connection = Connect();
        var rows = connection.Query<IncidentRow>(
            openOnly ? SelectIncidents + " WHERE closed_at IS NULL ORDER BY id DESC LIMIT @Limit" : SelectIncidents + " ORDER BY id DESC LIMIT @Limit",
            new LimitRow { Limit = limit });
        return rows.Select(r => r.ToRecord()).ToList();
    }

    /// <summary>Per-second samples of one incident, oldest first.</summary>
    public List<IncidentSecond> Seconds(long incidentId)
    {
        using var connection = Connect();
        return connection.Query<SampleRow>(
            "SELECT incident_id AS IncidentId, second AS Second, pps AS Pps, bps AS Bps, flows AS Flows, udp_pps AS UdpPps, syn_pps AS SynPps, icmp_pps AS IcmpPps, fragment_pps AS FragmentPps, breaching AS Breaching FROM incident_samples WHERE incident_id = @Id ORDER BY second",
            new IdRow { Id = incidentId }).Select(r => r.ToSecond()).ToList();
    }

    private const string SelectActions =
        "SELECT id AS Id, incident_id AS IncidentId, kind AS Kind, rule AS Rule, command AS Command, applied_at AS AppliedAt, withdrawn_at AS WithdrawnAt, " +
        "dropped AS Dropped, state AS State, attempts AS Attempts, dry_run AS DryRun, withdraw_requested AS WithdrawRequested, error AS Error FROM incident_actions";

    /// <summary>
    /// Records a new action (synchronously: the caller needs its id to tag the rule) and returns its id. The incident
    /// is written first if the writer thread has not got to it yet, so that the action always has its incident.
    /// </summary>
    public long AddAction(MitigationAction action, IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(incident);
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        connection.Execute(InsertIncidentIfMissing, IncidentRow.From(incident), transaction);
        var id = connection.ExecuteScalar<long>(
            """
            INSERT INTO incident_actions (incident_id, kind, rule, command, applied_at, withdrawn_at, dropped, state, attempts, dry_run, withdraw_requested, error)
            VALUES (@IncidentId, @Kind, @Rule, @Command, @AppliedAt, @WithdrawnAt, @Dropped, @State, @Attempts, @DryRun, @WithdrawRequested, @Error)
            RETURNING id
            """,
            ActionRow.From(action),
            transaction);
        transaction.Commit();
        return id;
    }

    public void UpdateAction(MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        using var connection = Connect();
        connection.Execute(
            """
            UPDATE incident_actions SET command = @Command, applied_at = @AppliedAt, withdrawn_at = @WithdrawnAt, dropped = @Dropped, state = @State,
                attempts = @Attempts, error = @Error WHERE id = @Id
            """,
            ActionRow.From(action));
    }

    /// <summary>Actions newest first; <paramref name="activeOnly"/>: not withdrawn, applied or still being applied.</summary>
    public List<MitigationAction> Actions(bool activeOnly, int limit = 1000)
    {
        using var connection = Connect();
        var sql = activeOnly
            ? SelectActions + " WHERE withdrawn_at IS NULL AND state IN ('applied', 'pending') ORDER BY id DESC LIMIT @Limit"
            : SelectActions + " ORDER BY id DESC LIMIT @Limit";
        return connection.Query<ActionRow>(sql, new LimitRow { Limit = limit }).Select(r => r.ToAction()).ToList();
    }

    public MitigationAction? Action(long id)
    {
        using var connection = Connect();
        return connection.Query<ActionRow>(SelectActions + " WHERE id = @Id", new IdRow { Id = id }).Select(r => r.ToAction()).FirstOrDefault();
    }

    /// <summary>Marks an action for withdrawal by the running collector (or the next one to start); false when there is no such active action.</summary>
    public bool RequestWithdraw(long id)
    {
        using var connection = Connect();
        return connection.Execute("UPDATE incident_actions SET withdraw_requested = 1 WHERE id = @Id AND withdrawn_at IS NULL", new IdRow { Id = id }) > 0;
    }

    /// <summary>What the detector resumes with: saved baselines younger than <paramref name="maxAge"/>, open incidents, the last id.</summary>
    public DetectorState LoadDetectorState(DateTimeOffset now, TimeSpan maxAge)
    {
        using var connection = Connect();
        var oldest = (now - maxAge).ToUnixTimeSeconds();
        var baselines = connection.Query<BaselineRow>(
            "SELECT key AS Key, learned AS Learned, samples AS Samples, first_second AS FirstSecond, last_second AS LastSecond, mean AS Mean, spread AS Spread FROM baselines WHERE last_second >= @Since",
            new SinceRow { Since = oldest })
            .Select(r => r.ToSaved()).ToList();
        var lastId = connection.ExecuteScalar<long?>("SELECT MAX(id) FROM incidents") ?? 0;
        return new DetectorState { Baselines = baselines, OpenIncidents = Incidents(openOnly: true), LastIncidentId = lastId };
    }

    public void Dispose()
    {
        if (_queue.IsAddingCompleted)
        {
            return;
        }

        _queue.CompleteAdding();
        if (_writer.IsAlive)
        {
            _writer.Join(TimeSpan.FromSeconds(30));
        }

        _queue.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private const string SelectIncidents =
        "SELECT id AS Id, key AS Key, key_kind AS KeyKind, node AS Node, source AS Source, exporter AS Exporter, interface AS Interface, direction AS Direction, address AS Address, " +
        "attack_type AS AttackType, vector AS Vector, confidence AS Confidence, severity AS Severity, opened_at AS OpenedAt, closed_at AS ClosedAt, updated_at AS UpdatedAt, " +
        "first_second AS FirstSecond, peak_pps AS PeakPps, peak_bps AS PeakBps, current_pps AS CurrentPps, current_bps AS CurrentBps, capacity_bps AS CapacityBps, threshold AS Threshold, " +
        "threshold_metric AS ThresholdMetric, top_source_ports AS TopSourcePorts, top_sources AS TopSources, reopened AS Reopened, close_reason AS CloseReason FROM incidents";

    private const string UpsertIncident = InsertIncident +
        """

        ON CONFLICT (id) DO UPDATE SET attack_type = excluded.attack_type, vector = excluded.vector, confidence = excluded.confidence,
            severity = excluded.severity, closed_at = excluded.closed_at, updated_at = excluded.updated_at, peak_pps = excluded.peak_pps,
            peak_bps = excluded.peak_bps, current_pps = excluded.current_pps, current_bps = excluded.current_bps, capacity_bps = excluded.capacity_bps, threshold = excluded.threshold,
            threshold_metric = excluded.threshold_metric, top_source_ports = excluded.top_source_ports, top_sources = excluded.top_sources,
            reopened = excluded.reopened, close_reason = excluded.close_reason
        """;

    private const string InsertIncidentIfMissing = InsertIncident + " ON CONFLICT (id) DO NOTHING";

    private const string InsertIncident =
        """
        INSERT INTO incidents (id, key, key_kind, node, source, exporter, interface, direction, address, attack_type, vector, confidence, severity,
            opened_at, closed_at, updated_at, first_second, peak_pps, peak_bps, current_pps, current_bps, capacity_bps, threshold, threshold_metric,
            top_source_ports, top_sources, reopened, close_reason)
        VALUES (@Id, @Key, @KeyKind, @Node, @Source, @Exporter, @Interface, @Direction, @Address, @AttackType, @Vector, @Confidence, @Severity,
            @OpenedAt, @ClosedAt, @UpdatedAt, @FirstSecond, @PeakPps, @PeakBps, @CurrentPps, @CurrentBps, @CapacityBps, @Threshold, @ThresholdMetric,
            @TopSourcePorts, @TopSources, @Reopened, @CloseReason)
        """;

    private const string InsertSample =
        """
        INSERT OR REPLACE INTO incident_samples (incident_id, second, pps, bps, flows, udp_pps, syn_pps, icmp_pps, fragment_pps, breaching)
        VALUES (@IncidentId, @Second, @Pps, @Bps, @Flows, @UdpPps, @SynPps, @IcmpPps, @FragmentPps, @Breaching)
        """;

    private const string UpsertBaseline =
        """
        INSERT INTO baselines (key, learned, samples, first_second, last_second, mean, spread, saved_at)
        VALUES (@Key, @Learned, @Samples, @FirstSecond, @LastSecond, @Mean, @Spread, @SavedAt)
        ON CONFLICT (key) DO UPDATE SET learned = excluded.learned, samples = excluded.samples, first_second = excluded.first_second,
            last_second = excluded.last_second, mean = excluded.mean, spread = excluded.spread, saved_at = excluded.saved_at
        """;

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        connection.Execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -256");
        return connection;
    }

    private void Enqueue(Write write)
    {
        if (_queue.IsAddingCompleted || _queue.Count >= MaxQueued)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        _queue.Add(write);
    }

    private void WriteLoop()
    {
        SqliteConnection? connection = null;
        var batch = new List<Write>();
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            batch.Clear();
            batch.Add(first);
            while (batch.Count < 10_000 && _queue.TryTake(out var next))
            {
                batch.Add(next);
            }

            try
            {
                connection ??= Connect();
                Commit(connection, batch);
            }
            catch (SqliteException exception)
            {
                Interlocked.Increment(ref _failed);
                LastError = exception.Message;
                connection?.Dispose();
                connection = null;
            }
            finally
            {
                foreach (var write in batch)
                {
                    write.Done?.Set();
                }
            }
        }

        connection?.Dispose();
    }

    private void Commit(SqliteConnection connection, List<Write> batch)
    {
        using var transaction = connection.BeginTransaction();
        long rows = 0;
        foreach (var write in batch)
        {
            if (write.Incident is { } incident)
            {
                connection.Execute(UpsertIncident, IncidentRow.From(incident), transaction);
                rows++;
            }

            if (write.Second is { } second)
            {
                connection.Execute(InsertSample, SampleRow.From(second), transaction);
                rows++;
            }

            if (write.Baselines is { } baselines)
            {
                var savedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                foreach (var baseline in baselines)
                {
                    connection.Execute(UpsertBaseline, BaselineRow.From(baseline, savedAt), transaction);
                    rows++;
                }
            }
        }

        transaction.Commit();
        Interlocked.Add(ref _written, rows);
    }

    private readonly record struct Write(IncidentRecord? Incident, IncidentSecond? Second, IReadOnlyList<SavedBaseline>? Baselines, ManualResetEventSlim? Done);
}
