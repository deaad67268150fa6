using System.Text;
using Dapper;
using FlowCollector.Exporters.Storage;
using Microsoft.Data.Sqlite;

namespace FlowCollector.Exporters.Alerts;

/// <summary>Where a delivery stands.</summary>
public enum DeliveryState
{
    /// <summary>Not yet acknowledged: being sent, or waiting for its next attempt.</summary>
    Pending,

    Sent,

    /// <summary>Refused, or still not delivered when it reached the maximum age.</summary>
    Failed,
}

/// <summary>One event to one channel, as the outbox holds it.</summary>
public sealed record AlertDelivery
{
    public long Row { get; init; }

    /// <summary>The event's id: in its document, and the webhook-id header.</summary>
    public required string Id { get; init; }

    public required long IncidentId { get; init; }

    public required string Channel { get; init; }

    public required AlertEventKind Event { get; init; }

    public required DeliveryState State { get; init; }

    public int Attempts { get; init; }

    public string? LastError { get; init; }

    /// <summary>What the service last answered (status and the start of its body, or the script's exit).</summary>
    public string? Answer { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset NextAttemptAt { get; init; }

    public DateTimeOffset? SentAt { get; init; }

    /// <summary>The event document; empty in listings.</summary>
    public byte[] Document { get; init; } = [];
}

/// <summary>What the dispatcher does with an update for an incident that already has one waiting.</summary>
public delegate (AlertEventKind Event, byte[] Document)? Coalescer(string eventId, AlertEventKind waiting);

/// <summary>
/// The durable outbox in the collector's SQLite database: every event is written here before it is sent, and its
/// row records the outcome. After a crash the pending rows are sent again (a row being sent when the process died is
/// sent again under the same event id, so that receivers can drop the repeat); a row marked sent never is. One
/// connection, used under a lock: the dispatcher and every channel's sender share it, and each statement is short.
/// </summary>
public sealed class AlertOutbox : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SqliteConnection _connection;
    private int _pending;

    private AlertOutbox(SqliteConnection connection)
    {
        _connection = connection;
    }

    /// <summary>Deliveries not yet sent nor given up.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Opens the outbox in the store's database (migrated by the store); rows left mid-send by a crash become sendable again.</summary>
    public static bool TryOpen(string path, out AlertOutbox? outbox, out string error)
    {
        outbox = null;
        SqliteConnection? connection = null;
        try
        {
            connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, DefaultTimeout = 10, Pooling = false }.ToString());
            connection.Open();
            connection.Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000");
            if (!StoreSchema.TryMigrate(connection, out error))
            {
                connection.Dispose();
                return false;
            }

            connection.Execute("UPDATE alert_deliveries SET sending = 0 WHERE sending = 1");
            outbox = new AlertOutbox(connection);
            outbox._pending = connection.ExecuteScalar<int>("SELECT COUNT(*) FROM alert_deliveries WHERE state = 'pending'");
            return true;
        }
        catch (SqliteException exception)
        {
            connection?.Dispose();
            error = IncidentStore.Describe(path, exception);
            return false;
        }
    }

    /// <summary>Records a new delivery, pending and due at once.</summary>
    public long Add(AlertDelivery delivery)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        lock (_lock)
        {
            var row = _connection.ExecuteScalar<long>(
                """
                INSERT INTO alert_deliveries (event_id, incident_id, channel, event, document, state, attempts, created_at, next_attempt_at)
                VALUES (@EventId, @IncidentId, @Channel, @Event, @Document, 'pending', 0, @CreatedAt, @CreatedAt)
                RETURNING id
                """,
                DeliveryRow.From(delivery));
            _pending++;
            return row;
        }
    }

    /// <summary>
    /// Folds an update into the incident's newest delivery to the channel that is still waiting and not being sent:
    /// <paramref name="merge"/> gets it and returns what it becomes (or null to leave it). False when there is no
    /// such delivery, or merge declined: the caller adds one.
    /// </summary>
    public bool TryCoalesce(long incidentId, string channel, Coalescer merge)
    {
        ArgumentNullException.ThrowIfNull(merge);
        lock (_lock)
        {
            var waiting = _connection.QueryFirstOrDefault<DeliveryRow>(
                "SELECT id AS Row, event_id AS EventId, event AS Event FROM alert_deliveries WHERE incident_id = @IncidentId AND channel = @Channel AND state = 'pending' AND sending = 0 ORDER BY id DESC LIMIT 1",
                new DeliveryRow { IncidentId = incidentId, Channel = channel });
            if (waiting is null || !AlertEventNames.TryParse(waiting.Event, out var kind) || merge(waiting.EventId, kind) is not { } merged)
            {
                return false;
            }

            // Only the newest waiting row may change: an older one would then go out with news that a later row repeats.
            var newest = _connection.ExecuteScalar<long>("SELECT MAX(id) FROM alert_deliveries WHERE incident_id = @IncidentId AND channel = @Channel", new DeliveryRow { IncidentId = incidentId, Channel = channel });
            if (newest != waiting.Row)
            {
                return false;
            }

            return _connection.Execute(
                "UPDATE alert_deliveries SET event = @Event, document = @Document WHERE id = @Row AND state = 'pending' AND sending = 0",
                new DeliveryRow { Row = waiting.Row, Event = AlertEventNames.Name(merged.Event), Document = Encoding.UTF8.GetString(merged.Document) }) == 1;
        }
    }

    /// <summary>
    /// The channel's next delivery to send at <paramref name="now"/>, marked as being sent: the oldest waiting
    /// delivery of each incident (an incident's events go out in order), earliest due first. When none is due,
    /// null, with the time the next one is.
    /// </summary>
    public AlertDelivery? Claim(string channel, DateTimeOffset now, out DateTimeOffset? nextDue)
    {
        lock (_lock)
        {
            var head = _connection.QueryFirstOrDefault<DeliveryRow>(
                """
                SELECT d.id AS Row, d.event_id AS EventId, d.incident_id AS IncidentId, d.channel AS Channel, d.event AS Event, d.document AS Document,
                    d.state AS State, d.attempts AS Attempts, d.created_at AS CreatedAt, d.next_attempt_at AS NextAttemptAt
                FROM alert_deliveries d
                WHERE d.channel = @Channel AND d.state = 'pending' AND d.sending = 0
                    AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.channel = d.channel AND e.incident_id = d.incident_id AND e.state = 'pending' AND e.id < d.id)
                ORDER BY d.next_attempt_at, d.id LIMIT 1
                """,
                new DeliveryRow { Channel = channel });
            if (head is null)
            {
                nextDue = null;
                return null;
            }

            var due = DateTimeOffset.FromUnixTimeMilliseconds(head.NextAttemptAt);
            if (due > now)
            {
                nextDue = due;
                return null;
            }

            _connection.Execute("UPDATE alert_deliveries SET sending = 1 WHERE id = @Row", head);
            nextDue = null;
            return head.ToDelivery(withDocument: true);
        }
    }

    /// <summary>Acknowledged: never sent again.</summary>
    public void MarkSent(long row, string answer, DateTimeOffset at)
    {
        lock (_lock)
        {
            _connection.Execute(
                "UPDATE alert_deliveries SET state = 'sent', sending = 0, attempts = attempts + 1, answer = @Answer, last_error = NULL, sent_at = @SentAt WHERE id = @Row",
                new DeliveryRow { Row = row, Answer = answer, SentAt = at.ToUnixTimeMilliseconds() });
            _pending--;
        }
    }

    /// <summary>An attempt failed; the next is due at <paramref name="nextAttempt"/>.</summary>
    public void MarkRetry(long row, string error, DateTimeOffset nextAttempt)
    {
        lock (_lock)
        {
            _connection.Execute(
                "UPDATE alert_deliveries SET sending = 0, attempts = attempts + 1, last_error = @LastError, answer = @LastError, next_attempt_at = @NextAttemptAt WHERE id = @Row",
                new DeliveryRow { Row = row, LastError = error, NextAttemptAt = nextAttempt.ToUnixTimeMilliseconds() });
        }
    }

    /// <summary>Refused, or too old: not tried again. <paramref name="countAttempt"/>: this call ends an attempt.</summary>
    public void MarkFailed(long row, string error, bool countAttempt = true)
    {
        lock (_lock)
        {
            _connection.Execute(
                "UPDATE alert_deliveries SET state = 'failed', sending = 0, attempts = attempts + @Attempts, last_error = @LastError WHERE id = @Row",
                new DeliveryRow { Row = row, LastError = error, Attempts = countAttempt ? 1 : 0 });
            _pending--;
        }
    }

    /// <summary>Puts a claimed delivery back unchanged (the collector is stopping, or the channel must wait first).</summary>
    public void Release(long row, DateTimeOffset? notBefore = null)
    {
        lock (_lock)
        {
            _connection.Execute(
                "UPDATE alert_deliveries SET sending = 0, next_attempt_at = MAX(next_attempt_at, @NextAttemptAt) WHERE id = @Row",
                new DeliveryRow { Row = row, NextAttemptAt = notBefore?.ToUnixTimeMilliseconds() ?? 0 });
        }
    }

    /// <summary>Marks failed what is pending for a channel not in <paramref name="channels"/> (no longer configured); returns how many.</summary>
    public int EndUnrouted(IReadOnlyCollection<string> channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        var ended = 0;
        foreach (var stale in List(pendingOnly: true, limit: 1_000_000).Where(d => !channels.Contains(d.Channel)))
        {
            MarkFailed(stale.Row, $"channel {stale.Channel} is no longer configured", countAttempt: false);
            ended++;
        }

        return ended;
    }

    /// <summary>The event document a delivery carries (as sent, or as it will be), or null when there is no such delivery.</summary>
    public byte[]? Document(string eventId)
    {
        lock (_lock)
        {
            var text = _connection.QueryFirstOrDefault<string>("SELECT document FROM alert_deliveries WHERE event_id = @EventId", new DeliveryRow { EventId = eventId });
            return text is null ? null : Encoding.UTF8.GetBytes(text);
        }
    }

    /// <summary>Every delivery of an incident, oldest first, without documents: what each channel has been told.</summary>
    public List<AlertDelivery> OfIncident(long incidentId)
    {
        lock (_lock)
        {
            return [.. _connection.Query<DeliveryRow>(SelectListing + " WHERE incident_id = @IncidentId ORDER BY id", new DeliveryRow { IncidentId = incidentId }).Select(r => r.ToDelivery(withDocument: false))];
        }
    }

    /// <summary>Newest first; <paramref name="pendingOnly"/>: only what is still to be sent.</summary>
    public List<AlertDelivery> List(bool pendingOnly, int limit = 1000)
    {
        lock (_lock)
        {
            var sql = SelectListing + (pendingOnly ? " WHERE state = 'pending'" : string.Empty) + " ORDER BY id DESC LIMIT @Limit";
            return [.. _connection.Query<DeliveryRow>(sql, new DeliveryRow { Limit = limit }).Select(r => r.ToDelivery(withDocument: false))];
        }
    }

    /// <summary>For each incident the channel was last told is open, the newest document it acknowledged (what a repeat sends again).</summary>
    public List<AlertDelivery> OpenSent(string channel)
    {
        lock (_lock)
        {
            return [.. _connection.Query<DeliveryRow>(
                """
                SELECT d.id AS Row, d.event_id AS EventId, d.incident_id AS IncidentId, d.channel AS Channel, d.event AS Event, d.document AS Document,
                    d.state AS State, d.attempts AS Attempts, d.created_at AS CreatedAt, d.next_attempt_at AS NextAttemptAt, d.sent_at AS SentAt
                FROM alert_deliveries d
                WHERE d.id IN (SELECT MAX(id) FROM alert_deliveries WHERE channel = @Channel AND state = 'sent' AND event <> 'test' GROUP BY incident_id)
                    AND d.event <> 'resolved'
                """,
                new DeliveryRow { Channel = channel }).Select(r => r.ToDelivery(withDocument: true))];
        }
    }

    /// <summary>Deletes sent and failed deliveries created before <paramref name="before"/>; pending ones stay until they end.</summary>
    public int DeleteEnded(DateTimeOffset before)
    {
        lock (_lock)
        {
            return _connection.Execute("DELETE FROM alert_deliveries WHERE state <> 'pending' AND created_at < @CreatedAt", new DeliveryRow { CreatedAt = before.ToUnixTimeMilliseconds() });
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _connection.Dispose();
        }
    }

    private const string SelectListing =
        """
        SELECT id AS Row, event_id AS EventId, incident_id AS IncidentId, channel AS Channel, event AS Event, '' AS Document, state AS State,
            attempts AS Attempts, last_error AS LastError, answer AS Answer, created_at AS CreatedAt, next_attempt_at AS NextAttemptAt, sent_at AS SentAt
        FROM alert_deliveries
        """;
}

/// <summary>A delivery as the database holds it (and the parameters of the outbox's statements).</summary>
internal sealed class DeliveryRow
{
    public long Row { get; init; }

    public string EventId { get; init; } = string.Empty;

    public long IncidentId { get; init; }

    public string Channel { get; init; } = string.Empty;

    public string Event { get; init; } = string.Empty;

    public string Document { get; init; } = string.Empty;

    public string State { get; init; } = "pending";

    public int Attempts { get; init; }

    public string? LastError { get; init; }

    public string? Answer { get; init; }

    public long CreatedAt { get; init; }

    public long NextAttemptAt { get; init; }

    public long? SentAt { get; init; }

    public long Limit { get; init; }

    public static DeliveryRow From(AlertDelivery delivery) => new()
    {
        EventId = delivery.Id,
        IncidentId = delivery.IncidentId,
        Channel = delivery.Channel,
        Event = AlertEventNames.Name(delivery.Event),
        Document = Encoding.UTF8.GetString(delivery.Document),
        CreatedAt = delivery.CreatedAt.ToUnixTimeMilliseconds(),
    };

    public AlertDelivery ToDelivery(bool withDocument)
    {
        var kind = AlertEventNames.TryParse(Event, out var parsed) ? parsed : AlertEventKind.Test;
        return new AlertDelivery
        {
            Row = Row,
            Id = EventId,
            IncidentId = IncidentId,
            Channel = Channel,
            Event = kind,
            State = State switch { "sent" => DeliveryState.Sent, "failed" => DeliveryState.Failed, _ => DeliveryState.Pending },
            Attempts = Attempts,
            LastError = LastError,
            Answer = Answer,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            NextAttemptAt = DateTimeOffset.FromUnixTimeMilliseconds(NextAttemptAt),
            SentAt = SentAt is { } sent ? DateTimeOffset.FromUnixTimeMilliseconds(sent) : null,
            Document = withDocument ? Encoding.UTF8.GetBytes(Document) : [],
        };
    }
}
