using System.Collections.Concurrent;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace FlowCollector.Exporters.Fleet;

/// <summary>
/// A node's side of the fleet: incident events (the alert event document) and a per-second summary of its
/// destinations and prefixes, published to NATS JetStream on subjects that name the node. The detection thread only
/// encodes and queues; one task of its own publishes, in order, each message until JetStream acknowledges it. While
/// NATS is unreachable the queue holds <see cref="FleetOptions.BufferMessages"/>: beyond it the oldest summaries go
/// first, then the oldest events, each counted. Every message carries an id (Nats-Msg-Id), so that one published
/// again after a lost acknowledgement is stored once.
/// </summary>
public sealed partial class FleetPublisher : IIncidentObserver, IAsyncDisposable
{
    private readonly FleetOptions _options;
    private readonly string _node;
    private readonly string _version;
    private readonly MonitoredPrefixes _prefixes;
    private readonly Func<long, IReadOnlyList<MitigationAction>> _actionsOf;
    private readonly string _baseUrl;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly LinkedList<Outgoing> _events = new();
    private readonly LinkedList<Outgoing> _summaries = new();
    private readonly SemaphoreSlim _waiting = new(0);
    private readonly ConcurrentDictionary<long, IncidentRecord> _latest = new();
    private readonly ConcurrentDictionary<(string Kind, string Outcome), long> _counters = new();
    private readonly List<int> _order = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _eventSubject;
    private readonly string _summarySubject;
    private byte[] _scratch = new byte[64 * 1024];
    private Task? _loop;
    private string? _watermarkPath;
    private long _watermark;
    private long _savedWatermark;
    private long _cutKeys;
    private volatile bool _connected;

    public FleetPublisher(FleetOptions options, string node, string version, MonitoredPrefixes prefixes, Func<long, IReadOnlyList<MitigationAction>> actionsOf, string baseUrl, TimeProvider time, ILogger logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _version = version ?? throw new ArgumentNullException(nameof(version));
        _prefixes = prefixes ?? throw new ArgumentNullException(nameof(prefixes));
        _actionsOf = actionsOf ?? throw new ArgumentNullException(nameof(actionsOf));
        _baseUrl = baseUrl ?? string.Empty;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _eventSubject = FleetSubjects.Events(options.Nats.Subject, node);
        _summarySubject = FleetSubjects.Summaries(options.Nats.Subject, node);
    }

    /// <summary>Messages per kind (event, summary) and outcome: published, duplicate, dropped_full, dropped_stale.</summary>
    public IReadOnlyDictionary<(string Kind, string Outcome), long> Counters => _counters;

    /// <summary>Destinations and prefixes left out of summaries by <see cref="FleetOptions.MaxSummaryKeys"/>.</summary>
    public long CutKeys => Interlocked.Read(ref _cutKeys);

    /// <summary>Messages waiting to be published.</summary>
    public int Buffered
    {
        get
        {
            lock (_gate)
            {
                return _events.Count + _summaries.Count;
            }
        }
    }

    /// <summary>Whether the last publish was acknowledged.</summary>
    public bool Connected => _connected;

    public void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    /// <summary>
    /// Before <see cref="Start"/>: the file that remembers the last incident change JetStream acknowledged, and the
    /// incidents that closed after it (a kill -9 between an incident's close and its acknowledgement would otherwise
    /// leave it open in the fleet for ever): their resolved events are queued again. The first run only starts the file.
    /// </summary>
    public void Resume(string watermarkPath, IEnumerable<IncidentRecord> recent)
    {
        ArgumentNullException.ThrowIfNull(watermarkPath);
        ArgumentNullException.ThrowIfNull(recent);
        _watermarkPath = watermarkPath;
        string? text = null;
        try
        {
            text = File.Exists(watermarkPath) ? File.ReadAllText(watermarkPath).Trim() : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogWatermarkUnread(_logger, watermarkPath, exception.Message);
        }

        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var watermark))
        {
            _watermark = _time.GetUtcNow().ToUnixTimeMilliseconds();
            return;
        }

        _watermark = _savedWatermark = watermark;
        foreach (var incident in recent.Where(i => i.ClosedAt is not null && i.UpdatedAt.ToUnixTimeMilliseconds() > watermark).OrderBy(i => i.UpdatedAt))
        {
            EnqueueEvent(AlertEventKind.Resolved, incident, null);
        }
    }

    /// <summary>Opened, escalated and resolved incidents are published; every change keeps the latest record for actions.</summary>
    public void OnIncident(in IncidentEvent change)
    {
        var incident = change.Incident;
        if (change.Change == IncidentChange.Closed)
        {
            _latest.TryRemove(incident.Id, out _);
        }
        else
        {
            _latest[incident.Id] = incident;
        }

        var kind = change.Change switch
        {
            IncidentChange.Opened => AlertEventKind.Opened,
            IncidentChange.Escalated => AlertEventKind.Escalated,
            IncidentChange.Closed => AlertEventKind.Resolved,
            _ => (AlertEventKind?)null,
        };
        if (kind is { } known)
        {
            EnqueueEvent(known, incident, null);
        }
    }

    /// <summary>An action applied, failed or withdrawn (the mitigation worker's thread).</summary>
    public void OnAction(MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_latest.TryGetValue(action.IncidentId, out var incident))
        {
            EnqueueEvent(AlertEventKind.Mitigated, incident, action);
        }
    }

    /// <summary>
    /// The detection thread, once a second after the tick: the destinations and prefixes of the second, heaviest
    /// first up to the cap, encoded and queued. Nothing is sent from this thread.
    /// </summary>
    public void OnSecond(TrafficSecond second)
    {
        ArgumentNullException.ThrowIfNull(second);
        var count = SummaryCodec.Select(second, _options.MaxSummaryKeys, _order, out var cut);
        if (cut > 0)
        {
            Interlocked.Add(ref _cutKeys, cut);
        }

        // A second with no monitored traffic still says the node is alive (and what it cut: nothing).
        var part = 0;
        var from = 0;
        do
        {
            var take = Math.Min(SummaryCodec.EntriesPerPart, count - from);
            var size = SummaryCodec.HeaderSize + (take * SummaryCodec.MaxEntrySize);
            if (_scratch.Length < size)
            {
                _scratch = new byte[size];
            }

            var written = SummaryCodec.WritePart(_scratch, second, _prefixes, _order, from, take, cut, part);
            var id = $"{_node}.{FleetSubjects.Invariant(second.Second)}.{FleetSubjects.Invariant(part)}";
            Enqueue(new Outgoing(Kind.Summary, _summarySubject, id, _scratch.AsSpan(0, written).ToArray(), second.Second));
            from += take;
            part++;
        }
        while (from < count);
    }

    private void EnqueueEvent(AlertEventKind kind, IncidentRecord incident, MitigationAction? action)
    {
        var at = _time.GetUtcNow();
        // The id names the change itself, so that the same change sent again (a retry) is recognised as such.
        var id = $"{_node}.{FleetSubjects.Invariant(incident.Id)}.{AlertEventNames.Name(kind)}.{FleetSubjects.Invariant(incident.UpdatedAt.ToUnixTimeMilliseconds())}"
            + (action is null ? string.Empty : $".{FleetSubjects.Invariant(action.Id)}.{ActionNames.Name(action.State)}");
        IReadOnlyList<MitigationAction> actions;
        try
        {
            actions = action is null && kind == AlertEventKind.Opened ? [] : _actionsOf(incident.Id);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // The document goes without its actions rather than not at all.
            LogActionsUnread(_logger, incident.Id, exception.Message);
            actions = action is null ? [] : [action];
        }

        var document = new AlertEvent(kind, id, at, _node, incident, actions, AlertEvent.LinkTo(_baseUrl, incident.Id)).ToJson();
        Enqueue(new Outgoing(Kind.Event, _eventSubject, id, document, 0) { UpdatedAt = incident.UpdatedAt.ToUnixTimeMilliseconds() });
    }

    private void Enqueue(Outgoing message)
    {
        lock (_gate)
        {
            while (_events.Count + _summaries.Count >= _options.BufferMessages)
            {
                // Summaries are perishable and events are not: a full buffer loses the oldest summary first.
                var victim = _summaries.Count > 0 ? _summaries : _events;
                Count(victim.First!.Value.Kind, "dropped_full");
                victim.RemoveFirst();
            }

            (message.Kind == Kind.Event ? _events : _summaries).AddLast(message);
        }

        _waiting.Release();
    }

    /// <summary>The next message to publish, events first; summaries too old to matter are dropped on the way.</summary>
    private Outgoing? Peek()
    {
        lock (_gate)
        {
            if (_events.First is { } first)
            {
                return first.Value;
            }

            var oldest = _time.GetUtcNow().ToUnixTimeSeconds() - _options.SummaryMaxAgeSeconds;
            while (_summaries.First is { } summary && summary.Value.Second < oldest)
            {
                Count(Kind.Summary, "dropped_stale");
                _summaries.RemoveFirst();
            }

            return _summaries.First?.Value;
        }
    }

    private void Remove(Outgoing message)
    {
        lock (_gate)
        {
            var list = message.Kind == Kind.Event ? _events : _summaries;
            if (list.First is { } first && ReferenceEquals(first.Value, message))
            {
                list.RemoveFirst();
            }
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        await using var connection = new NatsConnection(FleetSubjects.Connection(_options.Nats, $"flowcollector node {_node}"));
        var js = new NatsJSContext(connection);
        var streams = false;
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _waiting.WaitAsync(TimeSpan.FromSeconds(1), stopping).ConfigureAwait(false);
                if (!streams)
                {
                    await FleetSubjects.EnsureStreamsAsync(js, _options.Nats.Subject, _options.EventRetentionHours, stopping).ConfigureAwait(false);
                    streams = true;
                }

                while (!stopping.IsCancellationRequested && Peek() is { } message)
                {
                    await PublishAsync(js, message, stopping).ConfigureAwait(false);
                    Remove(message);
                    if (message.UpdatedAt > _watermark)
                    {
                        _watermark = message.UpdatedAt;
                    }
                    if (!_connected || failures > 0)
                    {
                        LogConnected(_logger, _options.Nats.DisplayUrl, Buffered);
                    }

                    _connected = true;
                    failures = 0;
                }

                SaveWatermark();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception) when (exception is NatsException or OperationCanceledException or TimeoutException or IOException)
            {
                // NATS unreachable or not answering: the message stays first in line; detection is not concerned.
                _connected = false;
                if (failures++ == 0)
                {
                    LogUnreachable(_logger, _options.Nats.DisplayUrl, exception.Message);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), _time, stopping).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the watermark when it moved (after a batch, not after every message), replacing the file whole.</summary>
    private void SaveWatermark()
    {
        if (_watermarkPath is null || _watermark == _savedWatermark)
        {
            return;
        }

        try
        {
            var temporary = _watermarkPath + ".tmp";
            File.WriteAllText(temporary, _watermark.ToString(System.Globalization.CultureInfo.InvariantCulture));
            File.Move(temporary, _watermarkPath, overwrite: true);
            _savedWatermark = _watermark;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogWatermarkUnsaved(_logger, _watermarkPath, exception.Message);
        }
    }

    private async Task PublishAsync(NatsJSContext js, Outgoing message, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var headers = new NatsHeaders { ["FlowCollector-Version"] = _version };
        var ack = await js.PublishAsync(message.Subject, message.Payload, opts: new NatsJSPubOpts { MsgId = message.Id }, headers: headers, cancellationToken: timeout.Token).ConfigureAwait(false);
        if (ack.Duplicate)
        {
            // JetStream has it already (an acknowledgement lost on the way, the same change told again): stored once.
            Count(message.Kind, "duplicate");
            return;
        }

        ack.EnsureSuccess();
        Count(message.Kind, "published");
    }

    private void Count(Kind kind, string outcome) => _counters.AddOrUpdate((kind == Kind.Event ? "event" : "summary", outcome), 1, (_, n) => n + 1);

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // What is queued gets a short chance to go (a clean stop says what it knows), then the loop ends.
        var deadline = _time.GetUtcNow().AddSeconds(3);
        while (_connected && Buffered > 0 && _time.GetUtcNow() < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        _stopping.Dispose();
        _waiting.Dispose();
    }

    private enum Kind
    {
        Event,
        Summary,
    }

    private sealed record Outgoing(Kind Kind, string Subject, string Id, byte[] Payload, long Second)
    {
        /// <summary>For an event: its incident's last change, Unix milliseconds (what the watermark remembers).</summary>
        public long UpdatedAt { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: NATS at {Url} unreachable ({Reason}); summaries and events are kept in a bounded buffer meanwhile")]
    private static partial void LogUnreachable(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "fleet: publishing to NATS at {Url} ({Buffered} messages still buffered)")]
    private static partial void LogConnected(ILogger logger, string url, int buffered);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: {Path} could not be read ({Reason}); incidents closed just before the last stop are not sent again")]
    private static partial void LogWatermarkUnread(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: {Path} could not be written ({Reason})")]
    private static partial void LogWatermarkUnsaved(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: the actions of incident {Id} could not be read ({Reason}); its event goes without them")]
    private static partial void LogActionsUnread(ILogger logger, long id, string reason);
}
