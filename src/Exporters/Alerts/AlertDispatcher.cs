using System.Collections.Concurrent;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Alerts.Channels;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Exporters.Alerts;

/// <summary>
/// Turns incident changes and mitigation outcomes into alert events and delivers them. The detector's and the
/// mitigation worker's threads only queue; one thread of the dispatcher's own routes each change, renders the
/// event document and writes it to the outbox, then wakes the channels concerned. Each channel sends from a loop
/// of its own, in order per incident, at its pace, retrying with back-off: a channel that hangs or is down delays
/// nobody else.
/// </summary>
public sealed partial class AlertDispatcher : IIncidentObserver, IDisposable
{
    /// <summary>Changes queued beyond this are dropped (and counted) rather than growing memory.</summary>
    private const int MaxQueued = 100_000;

    /// <summary>How long a closed incident's record is kept for actions withdrawn after it closed.</summary>
    private static readonly TimeSpan ClosedKept = TimeSpan.FromMinutes(10);

    private readonly AlertOptions _options;
    private readonly AlertOutbox _outbox;
    private readonly AlertRouter _router;
    private readonly Func<long, IReadOnlyList<MitigationAction>> _actionsOf;
    private readonly string _node;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, ChannelSender> _senders;
    private readonly BlockingCollection<Change> _changes = new(new ConcurrentQueue<Change>(), MaxQueued);
    private readonly ConcurrentDictionary<long, IncidentRecord> _latest = new();
    private readonly ConcurrentDictionary<(string Channel, string Event, string Outcome), long> _counters = new();
    private readonly Dictionary<(long Incident, string Channel), bool> _told = [];
    private readonly HashSet<long> _toldLoaded = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private long _dropped;
    private int _disposed;

    public AlertDispatcher(AlertOptions options, IReadOnlyList<IAlertChannel> channels, AlertOutbox outbox, Func<long, IReadOnlyList<MitigationAction>> actionsOf, string node, TimeProvider time, ILogger logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(channels);
        _outbox = outbox ?? throw new ArgumentNullException(nameof(outbox));
        _actionsOf = actionsOf ?? throw new ArgumentNullException(nameof(actionsOf));
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _router = new AlertRouter(options);
        _senders = channels.ToDictionary(c => c.Name, c => new ChannelSender(this, c), StringComparer.Ordinal);
        _thread = new Thread(Work) { IsBackground = true, Name = "alerts" };
    }

    /// <summary>Deliveries per channel, event and outcome: sent, retried, failed, skipped, coalesced, repeated, repeat_failed.</summary>
    public IReadOnlyDictionary<(string Channel, string Event, string Outcome), long> Counters => _counters;

    /// <summary>Deliveries waiting in the outbox.</summary>
    public int QueueDepth => _outbox.Pending;

    /// <summary>Changes dropped because the dispatcher fell too far behind.</summary>
    public long DroppedChanges => Interlocked.Read(ref _dropped);

    public IReadOnlyCollection<string> ChannelNames => _senders.Keys;

    /// <summary>Ends what channels no longer configured left pending, then starts routing and every channel's sender.</summary>
    public void Start()
    {
        _outbox.EndUnrouted(_senders.Keys);

        _thread.Start();
        foreach (var sender in _senders.Values)
        {
            sender.Start(_stopping.Token);
        }
    }

    /// <summary>Opened, escalated and closed incidents are queued; every change keeps the latest record for rendering.</summary>
    public void OnIncident(in IncidentEvent change)
    {
        _latest[change.Incident.Id] = change.Incident;
        if (change.Change != IncidentChange.Updated)
        {
            Enqueue(new Change(change.Change, change.Incident, null));
        }
    }

    /// <summary>An action applied, failed or withdrawn (the mitigation worker's thread).</summary>
    public void OnAction(MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_latest.TryGetValue(action.IncidentId, out var incident))
        {
            Enqueue(new Change(null, incident, action));
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _changes.CompleteAdding();
        if (_thread.IsAlive)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }

        _stopping.Cancel();
        Task.WaitAll([.. _senders.Values.Select(s => s.Stopped)], TimeSpan.FromSeconds(10));
        _stopping.Dispose();
        _changes.Dispose();
    }

    private void Enqueue(Change change)
    {
        if (_changes.IsAddingCompleted || !_changes.TryAdd(change))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private void Work()
    {
        var nextCleanup = _time.GetUtcNow();
        while (!_changes.IsCompleted)
        {
            if (_changes.TryTake(out var change, TimeSpan.FromSeconds(10)))
            {
                try
                {
                    Route(change);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    // A damaged database or a bug loses this one change, never the dispatcher.
                    LogUnexpected(_logger, exception);
                }
            }

            if (_time.GetUtcNow() >= nextCleanup)
            {
                Cleanup();
                nextCleanup = _time.GetUtcNow().AddMinutes(1);
            }
        }
    }

    private void Route(Change change)
    {
        // Routed and rendered as the change had it (its severity then); an action's news takes the newest record.
        var incident = change.Action is not null && _latest.TryGetValue(change.Incident.Id, out var latest) ? latest : change.Incident;
        LoadTold(incident.Id);
        switch (change.Incident)
        {
            case var _ when change.Action is not null:
                foreach (var channel in ToldChannels(incident.Id, open: true))
                {
                    Deliver(channel, AlertEventKind.Mitigated, incident);
                }

                // Withdrawn after the incident closed: a resolved event still waiting picks up the final actions.
                foreach (var channel in ToldChannels(incident.Id, open: false))
                {
                    _outbox.TryCoalesce(incident.Id, channel, (id, waiting) => waiting == AlertEventKind.Resolved ? (waiting, Render(waiting, id, incident)) : null);
                }

                break;
            case var _ when change.Kind == IncidentChange.Opened:
                foreach (var channel in _router.Channels(incident, incident.Severity).Where(c => _router.Wants(c, AlertEventKind.Opened)))
                {
                    // Open already (the collector restarted, the incident resumed): the channel knows.
                    if (!Told(incident.Id, channel))
                    {
                        Deliver(channel, AlertEventKind.Opened, incident);
                    }
                }

                break;
            case var _ when change.Kind == IncidentChange.Escalated:
                foreach (var channel in _router.Channels(incident, incident.Severity))
                {
                    // A channel that hears only a higher severity learns of the incident now: escalated is its opened.
                    if (_router.Wants(channel, AlertEventKind.Escalated) || (!Told(incident.Id, channel) && _router.Wants(channel, AlertEventKind.Opened)))
                    {
                        Deliver(channel, AlertEventKind.Escalated, incident);
                    }
                }

                break;
            case var _ when change.Kind == IncidentChange.Described:
                // A packet sample named the type and victims (router mode): an event still waiting says so when it goes.
                foreach (var channel in ToldChannels(incident.Id, open: true))
                {
                    _outbox.TryCoalesce(incident.Id, channel, (id, waiting) => waiting is AlertEventKind.Opened or AlertEventKind.Escalated ? (waiting, Render(waiting, id, incident)) : null);
                }

                break;
            case var _ when change.Kind == IncidentChange.Closed:
                var told = ToldChannels(incident.Id, open: true);
                var routed = _router.Channels(incident, incident.Severity);
                var resolvedTo = _options.Channels
                    .Where(c => _router.Wants(c.Name, AlertEventKind.Resolved) && (told.Contains(c.Name) || (!c.ResolvedOnlyIfOpened && routed.Contains(c.Name))))
                    .Select(c => c.Name);
                foreach (var channel in resolvedTo)
                {
                    Deliver(channel, AlertEventKind.Resolved, incident);
                }

                break;
        }
    }

    /// <summary>Queues one event to one channel: folded into a waiting update of the incident where it can be, else added.</summary>
    private void Deliver(string channel, AlertEventKind kind, IncidentRecord incident)
    {
        if (!_senders.TryGetValue(channel, out var sender))
        {
            return;
        }

        var coalesced = kind is AlertEventKind.Mitigated or AlertEventKind.Escalated && _outbox.TryCoalesce(incident.Id, channel, (id, waiting) =>
        {
            // An update joins a waiting open or update: the waiting event keeps its id and says the newest.
            var merged = waiting switch
            {
                AlertEventKind.Opened => AlertEventKind.Opened,
                AlertEventKind.Escalated => AlertEventKind.Escalated,
                AlertEventKind.Mitigated => kind,
                _ => (AlertEventKind?)null,
            };
            return merged is { } m ? (m, Render(m, id, incident)) : null;
        });
        if (coalesced)
        {
            Count(channel, kind, "coalesced");
        }
        else
        {
            var id = AlertEvent.NewId();
            _outbox.Add(new AlertDelivery
            {
                Id = id,
                IncidentId = incident.Id,
                Channel = channel,
                Event = kind,
                State = DeliveryState.Pending,
                CreatedAt = _time.GetUtcNow(),
                Document = Render(kind, id, incident),
            });
        }

        if (kind is AlertEventKind.Opened or AlertEventKind.Escalated)
        {
            _told[(incident.Id, channel)] = true;
        }
        else if (kind == AlertEventKind.Resolved)
        {
            _told[(incident.Id, channel)] = false;
        }

        sender.Wake();
    }

    private byte[] Render(AlertEventKind kind, string id, IncidentRecord incident) =>
        new AlertEvent(kind, id, _time.GetUtcNow(), _node, incident, _actionsOf(incident.Id), AlertEvent.LinkTo(_options.BaseUrl, incident.Id)).ToJson();

    /// <summary>What each channel was last told of the incident (open or resolved), read from the outbox once per incident.</summary>
    private void LoadTold(long incidentId)
    {
        if (!_toldLoaded.Add(incidentId))
        {
            return;
        }

        foreach (var delivery in _outbox.OfIncident(incidentId))
        {
            switch (delivery.Event)
            {
                case AlertEventKind.Opened or AlertEventKind.Escalated:
                    _told[(incidentId, delivery.Channel)] = true;
                    break;
                case AlertEventKind.Resolved:
                    _told[(incidentId, delivery.Channel)] = false;
                    break;
            }
        }
    }

    private bool Told(long incidentId, string channel) => _told.TryGetValue((incidentId, channel), out var open) && open;

    private List<string> ToldChannels(long incidentId, bool open) =>
        _senders.Keys.Where(c => _told.TryGetValue((incidentId, c), out var isOpen) && isOpen == open).ToList();

    /// <summary>Forgets closed incidents after a while, and deletes old deliveries.</summary>
    private void Cleanup()
    {
        var now = _time.GetUtcNow();
        foreach (var (id, incident) in _latest)
        {
            if (incident.ClosedAt is { } closed && now - closed > ClosedKept)
            {
                _latest.TryRemove(id, out _);
                _toldLoaded.Remove(id);
                foreach (var channel in _senders.Keys)
                {
                    _told.Remove((id, channel));
                }
            }
        }

        if (_options.RetentionDays > 0)
        {
            _outbox.DeleteEnded(now - TimeSpan.FromDays(_options.RetentionDays));
        }
    }

    private void Count(string channel, AlertEventKind kind, string outcome) =>
        _counters.AddOrUpdate((channel, AlertEventNames.Name(kind), outcome), 1, static (_, n) => n + 1);

    /// <summary>How long the n-th retry waits: doubling from the base up to the maximum, with half of it random, so that many collectors do not retry in step.</summary>
    private TimeSpan Backoff(int attempts)
    {
        var full = Math.Min(_options.RetryMaxSeconds, _options.RetryBaseSeconds * Math.Pow(2, Math.Min(attempts - 1, 30)));
        return TimeSpan.FromSeconds((full / 2) + (Random.Shared.NextDouble() * full / 2));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "alerts: unexpected failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "alert {EventId} ({Event} of incident {IncidentId}) to {Channel} not delivered, retrying in {Seconds:0.#} s: {Error}")]
    private static partial void LogRetry(ILogger logger, string eventId, string @event, long incidentId, string channel, double seconds, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "alert {EventId} ({Event} of incident {IncidentId}) to {Channel} failed for good: {Error}")]
    private static partial void LogFailed(ILogger logger, string eventId, string @event, long incidentId, string channel, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "alerts to {Channel} delivered again after {Attempts} attempts")]
    private static partial void LogRecovered(ILogger logger, string channel, int attempts);

    private readonly record struct Change(IncidentChange? Kind, IncidentRecord Incident, MitigationAction? Action);

    /// <summary>One channel's loop: claims its next due delivery from the outbox, waits for its pace, sends, records.</summary>
    private sealed class ChannelSender(AlertDispatcher owner, IAlertChannel channel)
    {
        private readonly SendWindow _window = new(channel.Limit);
        private readonly Dictionary<long, byte[]> _firing = [];
        private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private DateTimeOffset _nextRepeat = DateTimeOffset.MaxValue;

        public Task Stopped { get; private set; } = Task.CompletedTask;

        public void Start(CancellationToken stopping)
        {
            if (channel.Repeat is { } repeat)
            {
                foreach (var delivery in owner._outbox.OpenSent(channel.Name))
                {
                    _firing[delivery.IncidentId] = delivery.Document;
                }

                _nextRepeat = owner._time.GetUtcNow() + repeat;
            }

            Stopped = Task.Run(() => RunAsync(stopping), CancellationToken.None);
        }

        public void Wake() => Volatile.Read(ref _wake).TrySetResult();

        private async Task RunAsync(CancellationToken stopping)
        {
            while (!stopping.IsCancellationRequested)
            {
                Volatile.Write(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                DateTimeOffset wakeAt;
                try
                {
                    wakeAt = await SendDueAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    LogUnexpected(owner._logger, exception);
                    wakeAt = owner._time.GetUtcNow().AddSeconds(1);
                }

                var wait = wakeAt - owner._time.GetUtcNow();
                if (wait <= TimeSpan.Zero)
                {
                    continue;
                }

                using var cancelWait = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                var delay = Task.Delay(wait > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : wait, owner._time, cancelWait.Token);
                await Task.WhenAny(Volatile.Read(ref _wake).Task, delay).ConfigureAwait(false);
                await cancelWait.CancelAsync().ConfigureAwait(false);
            }
        }

        /// <summary>Sends what is due, as the pace allows; returns when to look again.</summary>
        private async Task<DateTimeOffset> SendDueAsync(CancellationToken stopping)
        {
            var time = owner._time;
            while (true)
            {
                var now = time.GetUtcNow();
                if (now >= _nextRepeat)
                {
                    await RepeatFiringAsync(stopping).ConfigureAwait(false);
                    _nextRepeat = time.GetUtcNow() + channel.Repeat!.Value;
                }

                var free = _window.NextFree(now);
                if (free > now)
                {
                    return Earliest(free, _nextRepeat);
                }

                var delivery = owner._outbox.Claim(channel.Name, now, out var nextDue);
                if (delivery is null)
                {
                    return Earliest(nextDue ?? DateTimeOffset.MaxValue, _nextRepeat);
                }

                await SendAsync(delivery, stopping).ConfigureAwait(false);
            }
        }

        private async Task SendAsync(AlertDelivery delivery, CancellationToken stopping)
        {
            var time = owner._time;
            var maxAge = TimeSpan.FromMinutes(owner._options.MaxAgeMinutes);
            if (time.GetUtcNow() - delivery.CreatedAt > maxAge)
            {
                owner._outbox.MarkFailed(delivery.Row, $"not delivered within Alerts:MaxAgeMinutes ({owner._options.MaxAgeMinutes}); last error: {delivery.LastError}", countAttempt: false);
                owner.Count(channel.Name, delivery.Event, "failed");
                return;
            }

            DeliveryAnswer answer;
            using var message = AlertMessage.Parse(delivery.Document);
            _window.Record(time.GetUtcNow());
            try
            {
                answer = await channel.SendAsync(message, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                owner._outbox.Release(delivery.Row);
                throw;
            }

            var name = AlertEventNames.Name(delivery.Event);
            switch (answer.Outcome)
            {
                case DeliveryOutcome.Sent or DeliveryOutcome.Skipped:
                    owner._outbox.MarkSent(delivery.Row, answer.Detail, time.GetUtcNow());
                    owner.Count(channel.Name, delivery.Event, answer.Outcome == DeliveryOutcome.Sent ? "sent" : "skipped");
                    if (delivery.Attempts > 0)
                    {
                        LogRecovered(owner._logger, channel.Name, delivery.Attempts + 1);
                    }

                    if (channel.Repeat is not null && delivery.Event != AlertEventKind.Test)
                    {
                        if (delivery.Event == AlertEventKind.Resolved)
                        {
                            _firing.Remove(delivery.IncidentId);
                        }
                        else
                        {
                            _firing[delivery.IncidentId] = delivery.Document;
                        }
                    }

                    break;
                case DeliveryOutcome.Failed:
                    owner._outbox.MarkFailed(delivery.Row, answer.Detail);
                    owner.Count(channel.Name, delivery.Event, "failed");
                    LogFailed(owner._logger, delivery.Id, name, delivery.IncidentId, channel.Name, answer.Detail);
                    break;
                default:
                    var wait = answer.RetryAfter ?? owner.Backoff(delivery.Attempts + 1);
                    var next = time.GetUtcNow() + wait;
                    if (answer.RetryAfter is { } after)
                    {
                        _window.PauseUntil(time.GetUtcNow() + after);
                    }

                    if (next - delivery.CreatedAt > maxAge)
                    {
                        owner._outbox.MarkFailed(delivery.Row, $"not delivered within Alerts:MaxAgeMinutes ({owner._options.MaxAgeMinutes}); last error: {answer.Detail}");
                        owner.Count(channel.Name, delivery.Event, "failed");
                        LogFailed(owner._logger, delivery.Id, name, delivery.IncidentId, channel.Name, answer.Detail);
                        break;
                    }

                    owner._outbox.MarkRetry(delivery.Row, answer.Detail, next);
                    owner.Count(channel.Name, delivery.Event, "retried");
                    if (delivery.Attempts == 0)
                    {
                        LogRetry(owner._logger, delivery.Id, name, delivery.IncidentId, channel.Name, wait.TotalSeconds, answer.Detail);
                    }

                    break;
            }
        }

        /// <summary>Says every firing alert again (Alertmanager forgets alerts not repeated); a failure waits for the next round.</summary>
        private async Task RepeatFiringAsync(CancellationToken stopping)
        {
            foreach (var (_, document) in _firing.ToList())
            {
                using var message = AlertMessage.Parse(document);
                var answer = await channel.SendAsync(message, stopping).ConfigureAwait(false);
                owner.Count(channel.Name, message.Kind, answer.Outcome == DeliveryOutcome.Sent ? "repeated" : "repeat_failed");
            }
        }

        private static DateTimeOffset Earliest(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
    }
}
