using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using FlowCollector.Detection.Incidents;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

[module: DapperAot]

namespace FlowCollector.Exporters.Storage;

/// <summary>How long the store keeps what it no longer needs; 0 keeps it forever.</summary>
/// <param name="IncidentDays">Closed incidents (with their seconds and actions) older than this are deleted.</param>
/// <param name="SecondsDays">Per-second rows older than this are deleted, also of incidents that are kept.</param>
/// <param name="BaselineHours">Baselines not saved for this long are deleted (they would not be restored).</param>
public sealed record StoreRetention(int IncidentDays = 180, int SecondsDays = 14, int BaselineHours = 168);

/// <summary>
/// Incidents, their seconds, and the learned baselines in one SQLite file (WAL), readable by its owner only. The
/// detector hands changes over on its thread and returns at once; a writer thread commits them in batches, so a slow
/// disk never delays detection. Each batch is one transaction: after kill -9 the file holds every batch that was
/// committed, and the open incidents it lists are what the next start resumes or closes. A batch that fails (a full
/// disk) is held and retried with back-off, within a bound of rows (the oldest per-second rows go first); failures
/// are logged when they start and change, and <see cref="Failing"/> tells /healthz. Old rows are deleted by age.
/// </summary>
public sealed partial class IncidentStore : IIncidentObserver, IDisposable
{
    /// <summary>Writes queued beyond this are dropped (and counted) rather than growing memory.</summary>
    private const int MaxQueued = 100_000;

    /// <summary>Rows held for a retry while the database refuses them; beyond it the oldest seconds go.</summary>
    private const int MaxHeldRows = 100_000;

    /// <summary>Rows deleted per transaction by retention, so the writer is never busy with it for long.</summary>
    private const int RetentionChunk = 10_000;

    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromHours(1);

    private readonly string _connectionString;
    private readonly BlockingCollection<Write> _queue = new(new ConcurrentQueue<Write>());
    private readonly Thread _writer;
    private readonly StoreRetention _retention;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _dropped;
    private long _failed;
    private long _written;
    private long _skipped;
    private long _deleted;
    private int _held;
    private volatile string? _lastError;

    private IncidentStore(string path, StoreRetention retention, TimeProvider time, ILogger logger)
    {
        Path = path;
        _retention = retention;
        _time = time;
        _logger = logger;
        // Unpooled: besides the writer's own connection, the store is read a few times a minute (the API, the
        // engine), and idle pooled connections each keep a page cache the router-mode footprint cannot afford.
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, DefaultTimeout = 10, Pooling = false }.ToString();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "incident-store" };
    }

    public string Path { get; }

    /// <summary>Writes lost: the queue was full, or held rows had to make room while the database refused them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Batches that failed to commit (disk full, file removed); each is retried.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Rows written.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Rows read back that could not be understood (damaged JSON) and were skipped.</summary>
    public long SkippedRows => Interlocked.Read(ref _skipped);

    /// <summary>Rows deleted by retention.</summary>
    public long DeletedRows => Interlocked.Read(ref _deleted);

    /// <summary>Rows waiting for the database to take them again.</summary>
    public int HeldRows => Volatile.Read(ref _held);

    /// <summary>True while the last commit failed: what the detector hands over is held, not yet on disk.</summary>
    public bool Failing => _lastError is not null;

    /// <summary>Why the last commit failed, while it is failing.</summary>
    public string? LastError => _lastError;

    /// <summary>
    /// Opens (creating and migrating) the database at <paramref name="path"/>, owner-only. A damaged file is refused
    /// with what to do about it.
    /// </summary>
    public static bool TryOpen(string path, out IncidentStore? store, out string error, StoreRetention? retention = null, ILogger? logger = null, TimeProvider? time = null)
    {
        store = new IncidentStore(path, retention ?? new StoreRetention(), time ?? TimeProvider.System, logger ?? NullLogger.Instance);
        try
        {
            KeepPrivate(path);
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
            error = Describe(path, exception);
            store = null;
            return false;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            error = $"cannot open the database {path}: {exception.Message}";
            store = null;
            return false;
        }

        store._writer.Start();
        return true;
    }

    /// <summary>What went wrong with the file, and for a damaged one what the operator can do.</summary>
    public static string Describe(string path, SqliteException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase
            ? $"the database {path} is damaged ({exception.Message}); stop flowcollector and move the file aside (with its -wal and -shm files: "
                + $"the next start makes a new one), or recover what it holds with: sqlite3 {path} .recover | sqlite3 {path}.recovered"
            : $"cannot use the database {path}: {exception.Message}";
    }

    /// <summary>The database and its journal files are readable by their owner only: they name victims and attackers.</summary>
    private static void KeepPrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(path))
        {
            // SQLite gives the -wal and -shm files the database file's permissions.
            using (new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
            {
            }

            return;
        }

        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~OwnerOnly) != 0)
            {
                File.SetUnixFileMode(file, OwnerOnly);
            }
        }
    }

    /// <summary>Every change is written: the incident as it stands, and its second while it is open.</summary>
    public void OnIncident(in IncidentEvent change) => Enqueue(new Write(change.Incident, change.HasSecond ? change.Second : null, null, null));

    /// <summary>Writes an incident as it stands, without a second (what an import or a test has to record).</summary>
    public void Save(IncidentRecord incident) => Enqueue(new Write(incident, null, null, null));

    /// <summary>Saves baselines (replacing what each key had).</summary>
    public void SaveBaselines(IReadOnlyList<SavedBaseline> baselines) => Enqueue(new Write(null, null, baselines, null));

    /// <summary>Tries at once to commit everything queued so far; true when it is on disk within the time.</summary>
    public bool Flush(TimeSpan timeout)
    {
        var done = new Flushed();
        if (!_queue.IsAddingCompleted)
        {
            _queue.Add(new Write(null, null, null, done));
        }

        return done.Signal.Wait(timeout) && done.Succeeded;
    }

    /// <summary>Incidents newest first; rows that cannot be read back are skipped and counted.</summary>
    public List<IncidentRecord> Incidents(bool openOnly, int limit = 1000) => [.. IncidentPage(openOnly, limit)];

    /// <summary>
    /// One page of incidents, newest first, with ids below <paramref name="before"/>, read row by row as the caller
    /// goes (the connection stays open until the enumeration ends), so a large page is never held whole in memory.
    /// Rows that cannot be read back are skipped and counted.
    /// </summary>
    public IEnumerable<IncidentRecord> IncidentPage(bool openOnly, int limit, long before = long.MaxValue)
    {
        using var connection = Connect();
        var sql = SelectIncidents + (openOnly ? " WHERE closed_at IS NULL AND id < @Before" : " WHERE id < @Before") + " ORDER BY id DESC LIMIT @Limit";
        foreach (var row in connection.Query<IncidentRow>(sql, new PageRow { Before = before, Limit = limit }, buffered: false))
        {
            if (TryConvert(row, static r => r.ToRecord(), out var record))
            {
                yield return record;
            }
        }
    }

    /// <summary>The rows that convert; a damaged one (unreadable JSON in a column) is skipped and counted, not fatal.</summary>
    private List<TResult> Readable<TRow, TResult>(IEnumerable<TRow> rows, Func<TRow, TResult> convert)
    {
        var result = new List<TResult>();
        foreach (var row in rows)
        {
            if (TryConvert(row, convert, out var converted))
            {
                result.Add(converted);
            }
        }

        return result;
    }

    private bool TryConvert<TRow, TResult>(TRow row, Func<TRow, TResult> convert, out TResult result)
    {
        try
        {
            result = convert(row);
            return true;
        }
        catch (Exception exception) when (exception is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            Interlocked.Increment(ref _skipped);
            LogSkippedRow(_logger, Path, exception.Message);
            result = default!;
            return false;
        }
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
        return Readable(connection.Query<ActionRow>(sql, new LimitRow { Limit = limit }), static r => r.ToAction());
    }

    /// <summary>An incident's actions, oldest first.</summary>
    public List<MitigationAction> ActionsOf(long incidentId)
    {
        using var connection = Connect();
        return Readable(connection.Query<ActionRow>(SelectActions + " WHERE incident_id = @Id ORDER BY id", new IdRow { Id = incidentId }), static r => r.ToAction());
    }

    public MitigationAction? Action(long id)
    {
        using var connection = Connect();
        return Readable(connection.Query<ActionRow>(SelectActions + " WHERE id = @Id", new IdRow { Id = id }), static r => r.ToAction()).FirstOrDefault();
    }

    /// <summary>Records where an incident's packets are (or why there are none), replacing what was recorded.</summary>
    public void SetPcap(long incidentId, PcapEvidence pcap)
    {
        ArgumentNullException.ThrowIfNull(pcap);
        using var connection = Connect();
        connection.Execute(
            """
            INSERT INTO incident_pcaps (incident_id, pcap_path, pcap_packets, pcap_bytes, pcap_first_at, pcap_last_at, pcap_note)
            SELECT @IncidentId, @Path, @Packets, @Bytes, @FirstAt, @LastAt, @Note WHERE EXISTS (SELECT 1 FROM incidents WHERE id = @IncidentId)
            ON CONFLICT (incident_id) DO UPDATE SET pcap_path = excluded.pcap_path, pcap_packets = excluded.pcap_packets, pcap_bytes = excluded.pcap_bytes,
                pcap_first_at = excluded.pcap_first_at, pcap_last_at = excluded.pcap_last_at, pcap_note = excluded.pcap_note
            """,
            PcapRow.From(incidentId, pcap));
    }

    /// <summary>What is recorded of an incident's packets; null when nothing is.</summary>
    public PcapEvidence? PcapOf(long incidentId)
    {
        using var connection = Connect();
        return connection.Query<PcapRow>(
            "SELECT incident_id AS IncidentId, pcap_path AS Path, pcap_packets AS Packets, pcap_bytes AS Bytes, pcap_first_at AS FirstAt, pcap_last_at AS LastAt, pcap_note AS Note FROM incident_pcaps WHERE incident_id = @Id",
            new IdRow { Id = incidentId }).Select(r => r.ToEvidence()).FirstOrDefault();
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
        var baselines = Readable(
            connection.Query<BaselineRow>(
                "SELECT key AS Key, learned AS Learned, samples AS Samples, first_second AS FirstSecond, last_second AS LastSecond, mean AS Mean, spread AS Spread FROM baselines WHERE last_second >= @Since",
                new SinceRow { Since = oldest }),
            static r => r.ToSaved());
        var lastId = connection.ExecuteScalar<long?>("SELECT MAX(id) FROM incidents") ?? 0;
        return new DetectorState { Baselines = baselines, OpenIncidents = Incidents(openOnly: true, limit: 1_000_000), LastIncidentId = lastId };
    }

    /// <summary>
    /// <see cref="LoadDetectorState"/>, or the reason it cannot be read: a damaged file is named with what to do,
    /// rather than ending start-up with a stack trace (and a service manager restarting it in a loop).
    /// </summary>
    public bool TryLoadDetectorState(DateTimeOffset now, TimeSpan maxAge, out DetectorState state, out string error)
    {
        try
        {
            state = LoadDetectorState(now, maxAge);
            error = string.Empty;
            return true;
        }
        catch (SqliteException exception)
        {
            state = new DetectorState();
            error = Describe(Path, exception);
            return false;
        }
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
        "attack_type AS AttackType, vector AS Vector, vectors AS Vectors, confidence AS Confidence, severity AS Severity, opened_at AS OpenedAt, closed_at AS ClosedAt, updated_at AS UpdatedAt, " +
        "first_second AS FirstSecond, peak_pps AS PeakPps, peak_bps AS PeakBps, current_pps AS CurrentPps, current_bps AS CurrentBps, capacity_bps AS CapacityBps, threshold AS Threshold, " +
        "threshold_metric AS ThresholdMetric, top_source_ports AS TopSourcePorts, top_sources AS TopSources, reopened AS Reopened, close_reason AS CloseReason, victims AS Victims, " +
        "pcap_path AS PcapPath, pcap_packets AS PcapPackets, pcap_bytes AS PcapBytes, pcap_first_at AS PcapFirstAt, pcap_last_at AS PcapLastAt, pcap_note AS PcapNote " +
        "FROM incidents LEFT JOIN incident_pcaps ON incident_pcaps.incident_id = incidents.id";

    private const string UpsertIncident = InsertIncident +
        """

        ON CONFLICT (id) DO UPDATE SET attack_type = excluded.attack_type, vector = excluded.vector, vectors = excluded.vectors, confidence = excluded.confidence,
            severity = excluded.severity, closed_at = excluded.closed_at, updated_at = excluded.updated_at, peak_pps = excluded.peak_pps,
            peak_bps = excluded.peak_bps, current_pps = excluded.current_pps, current_bps = excluded.current_bps, capacity_bps = excluded.capacity_bps, threshold = excluded.threshold,
            threshold_metric = excluded.threshold_metric, top_source_ports = excluded.top_source_ports, top_sources = excluded.top_sources,
            reopened = excluded.reopened, close_reason = excluded.close_reason, address = excluded.address, victims = excluded.victims
        """;

    private const string InsertIncidentIfMissing = InsertIncident + " ON CONFLICT (id) DO NOTHING";

    private const string InsertIncident =
        """
        INSERT INTO incidents (id, key, key_kind, node, source, exporter, interface, direction, address, attack_type, vector, vectors, confidence, severity,
            opened_at, closed_at, updated_at, first_second, peak_pps, peak_bps, current_pps, current_bps, capacity_bps, threshold, threshold_metric,
            top_source_ports, top_sources, reopened, close_reason, victims)
        VALUES (@Id, @Key, @KeyKind, @Node, @Source, @Exporter, @Interface, @Direction, @Address, @AttackType, @Vector, @Vectors, @Confidence, @Severity,
            @OpenedAt, @ClosedAt, @UpdatedAt, @FirstSecond, @PeakPps, @PeakBps, @CurrentPps, @CurrentBps, @CapacityBps, @Threshold, @ThresholdMetric,
            @TopSourcePorts, @TopSources, @Reopened, @CloseReason, @Victims)
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
        var held = new HeldWrites();
        var retryAt = DateTimeOffset.MinValue;
        var retryDelay = TimeSpan.FromSeconds(1);
        var failures = 0;
        var nextRetention = _time.GetUtcNow();
        while (true)
        {
            var now = _time.GetUtcNow();
            var until = (held.IsEmpty ? nextRetention : Min(retryAt, nextRetention)) - now;
            if (_queue.TryTake(out var first, until <= TimeSpan.Zero ? 0 : (int)Math.Min(until.TotalMilliseconds, int.MaxValue)))
            {
                held.Add(first);
                while (held.Rows < 10_000 && _queue.TryTake(out var next))
                {
                    held.Add(next);
                }
            }
            else if (_queue.IsCompleted)
            {
                break;
            }

            Interlocked.Add(ref _dropped, held.Trim(MaxHeldRows));
            Volatile.Write(ref _held, held.Rows);
            now = _time.GetUtcNow();
            if (!held.IsEmpty && (now >= retryAt || held.HasWaiters))
            {
                if (TryCommit(ref connection, held, out var error))
                {
                    if (failures > 0)
                    {
                        LogRecovered(_logger, Path, failures);
                    }

                    failures = 0;
                    retryDelay = TimeSpan.FromSeconds(1);
                    _lastError = null;
                    held.Clear(succeeded: true);
                }
                else
                {
                    failures++;
                    Interlocked.Increment(ref _failed);
                    if (_lastError != error)
                    {
                        LogFailing(_logger, Path, error, held.Rows);
                    }

                    _lastError = error;
                    retryAt = now + retryDelay;
                    retryDelay = Min(retryDelay * 2, MaxRetryDelay);
                    held.ReleaseWaiters(succeeded: false);
                }

                Volatile.Write(ref _held, held.Rows);
            }

            if (now >= nextRetention && held.IsEmpty)
            {
                DeleteExpired(ref connection);
                nextRetention = now + RetentionInterval;
            }
        }

        if (!held.IsEmpty && !TryCommit(ref connection, held, out var lastError))
        {
            Interlocked.Add(ref _dropped, held.Rows);
            LogLostAtShutdown(_logger, Path, held.Rows, lastError);
        }

        held.Clear(succeeded: _lastError is null);
        connection?.Dispose();
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private bool TryCommit(ref SqliteConnection? connection, HeldWrites held, out string error)
    {
        try
        {
            connection ??= Connect();
            Commit(connection, held);
            error = string.Empty;
            return true;
        }
        catch (SqliteException exception)
        {
            error = exception.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase ? Describe(Path, exception) : exception.Message;
            connection?.Dispose();
            connection = null;
            return false;
        }
    }

    private void Commit(SqliteConnection connection, HeldWrites held)
    {
        using var transaction = connection.BeginTransaction();
        long rows = 0;
        foreach (var incident in held.Incidents.Values)
        {
            connection.Execute(UpsertIncident, IncidentRow.From(incident), transaction);
            rows++;
        }

        foreach (var second in held.Seconds)
        {
            connection.Execute(InsertSample, SampleRow.From(second), transaction);
            rows++;
        }

        if (held.Baselines is { } baselines)
        {
            var savedAt = _time.GetUtcNow().ToUnixTimeSeconds();
            foreach (var baseline in baselines)
            {
                connection.Execute(UpsertBaseline, BaselineRow.From(baseline, savedAt), transaction);
                rows++;
            }
        }

        transaction.Commit();
        Interlocked.Add(ref _written, rows);
    }

    /// <summary>Deletes what retention no longer keeps, a chunk per transaction; closed incidents with an action in force stay.</summary>
    private void DeleteExpired(ref SqliteConnection? connection)
    {
        var now = _time.GetUtcNow();
        try
        {
            connection ??= Connect();
            if (_retention.SecondsDays > 0)
            {
                DeleteInChunks(connection, "DELETE FROM incident_samples WHERE (incident_id, second) IN (SELECT incident_id, second FROM incident_samples WHERE second < @Before LIMIT @Limit)", (now - TimeSpan.FromDays(_retention.SecondsDays)).ToUnixTimeSeconds());
            }

            if (_retention.IncidentDays > 0)
            {
                DeleteInChunks(
                    connection,
                    """
                    DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE closed_at IS NOT NULL AND closed_at < @Before
                        AND NOT EXISTS (SELECT 1 FROM incident_actions a WHERE a.incident_id = incidents.id AND a.withdrawn_at IS NULL AND a.state IN ('applied', 'pending'))
                        LIMIT @Limit)
                    """,
                    (now - TimeSpan.FromDays(_retention.IncidentDays)).ToUnixTimeMilliseconds());
            }

            if (_retention.BaselineHours > 0)
            {
                DeleteInChunks(connection, "DELETE FROM baselines WHERE key IN (SELECT key FROM baselines WHERE last_second < @Before LIMIT @Limit)", (now - TimeSpan.FromHours(_retention.BaselineHours)).ToUnixTimeSeconds());
            }
        }
        catch (SqliteException exception)
        {
            LogRetentionFailed(_logger, Path, exception.Message);
            connection?.Dispose();
            connection = null;
        }
    }

    private void DeleteInChunks(SqliteConnection connection, string sql, long before)
    {
        int deleted;
        do
        {
            using var transaction = connection.BeginTransaction();
            deleted = connection.Execute(sql, new RetentionRow { Before = before, Limit = RetentionChunk }, transaction);
            transaction.Commit();
            Interlocked.Add(ref _deleted, deleted);
        }
        while (deleted == RetentionChunk);
    }

    /// <summary>
    /// What the writer holds until it is committed: the latest state of each incident (an update replaces the one
    /// before it, so a second with 10,000 open incidents is 10,000 rows however often they change), their seconds, the
    /// latest baselines, and who waits for the flush.
    /// </summary>
    private sealed class HeldWrites
    {
        private readonly List<Flushed> _waiters = [];

        public Dictionary<long, IncidentRecord> Incidents { get; } = [];

        public List<IncidentSecond> Seconds { get; } = [];

        public IReadOnlyList<SavedBaseline>? Baselines { get; private set; }

        public int Rows => Incidents.Count + Seconds.Count + (Baselines?.Count ?? 0);

        public bool IsEmpty => Incidents.Count == 0 && Seconds.Count == 0 && Baselines is null && _waiters.Count == 0;

        public bool HasWaiters => _waiters.Count > 0;

        public void Add(in Write write)
        {
            if (write.Incident is { } incident)
            {
                Incidents[incident.Id] = incident;
            }

            if (write.Second is { } second)
            {
                Seconds.Add(second);
            }

            if (write.Baselines is { } baselines)
            {
                Baselines = baselines;
            }

            if (write.Done is { } done)
            {
                _waiters.Add(done);
            }
        }

        /// <summary>Makes room under the bound, oldest per-second rows first; returns the rows let go.</summary>
        public int Trim(int maxRows)
        {
            var excess = Rows - maxRows;
            if (excess <= 0)
            {
                return 0;
            }

            var seconds = Math.Min(excess, Seconds.Count);
            Seconds.RemoveRange(0, seconds);
            return seconds;
        }

        public void ReleaseWaiters(bool succeeded)
        {
            foreach (var waiter in _waiters)
            {
                waiter.Succeeded = succeeded;
                waiter.Signal.Set();
            }

            _waiters.Clear();
        }

        public void Clear(bool succeeded)
        {
            Incidents.Clear();
            Seconds.Clear();
            Baselines = null;
            ReleaseWaiters(succeeded);
        }
    }

    private sealed class Flushed
    {
        public ManualResetEventSlim Signal { get; } = new();

        public bool Succeeded { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "database {Path}: writes failing, {Rows} rows held and retried: {Error}")]
    private static partial void LogFailing(ILogger logger, string path, string error, int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "database {Path}: writes succeed again after {Failures} failed attempts; nothing held was lost")]
    private static partial void LogRecovered(ILogger logger, string path, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "database {Path}: {Rows} rows could not be written before stopping: {Error}")]
    private static partial void LogLostAtShutdown(ILogger logger, string path, int rows, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "database {Path}: a row that cannot be read back was skipped: {Reason}")]
    private static partial void LogSkippedRow(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "database {Path}: deleting old rows failed, will try again in an hour: {Error}")]
    private static partial void LogRetentionFailed(ILogger logger, string path, string error);

    private readonly record struct Write(IncidentRecord? Incident, IncidentSecond? Second, IReadOnlyList<SavedBaseline>? Baselines, Flushed? Done);
}
