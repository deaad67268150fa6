using System.Collections.Concurrent;
using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// Runs the <see cref="MitigationEngine"/> on a thread of its own, so that a slow nft or an absent ExaBGP never holds
/// up detection: incidents that open, escalate, change their type or close are queued for it, and once a second it does its
/// housekeeping. At dispose the engine withdraws everything.
/// </summary>
public sealed partial class MitigationWorker : IIncidentObserver, IDisposable
{
    /// <summary>Incident changes queued beyond this are dropped (and counted) rather than growing memory.</summary>
    private const int MaxQueued = 100_000;

    private readonly MitigationEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BlockingCollection<(IncidentRecord Incident, bool Closed)> _events = new(new ConcurrentQueue<(IncidentRecord, bool)>(), MaxQueued);
    private readonly Thread _thread;

    // What each open incident was last queued as: a second that names another type or other vectors is queued too,
    // so that the rules follow the classification. Touched only on the detection thread.
    private readonly Dictionary<long, (AttackType Type, AttackType? Vector, ulong Vectors)> _named = [];

    private long _droppedEvents;
    private int _disposed;

    public MitigationWorker(MitigationEngine engine, TimeProvider time, ILogger logger, ExaBgpSpeaker? speaker = null)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _thread = new Thread(Work) { IsBackground = true, Name = "mitigation" };
        if (speaker is not null)
        {
            speaker.Connected += engine.AnnouncerReconnected;
        }
    }

    public MitigationEngine Engine => _engine;

    /// <summary>Incident changes dropped because the engine fell too far behind.</summary>
    public long DroppedEvents => Interlocked.Read(ref _droppedEvents);

    /// <summary>Reconciles what an earlier run left (on the caller's thread), then starts acting.</summary>
    public void Start()
    {
        _engine.Start();
        _thread.Start();
    }

    /// <summary>Opened, escalated and closed incidents are queued for the engine; the other seconds are not its business.</summary>
    public void OnIncident(in IncidentEvent change)
    {
        switch (change.Change)
        {
            case IncidentChange.Opened or IncidentChange.Escalated or IncidentChange.Described:
                _named[change.Incident.Id] = NameOf(change.Incident);
                Enqueue(change.Incident, closed: false);
                break;
            case IncidentChange.Updated when _named.TryGetValue(change.Incident.Id, out var named) && NameOf(change.Incident) is var now && named != now:
                _named[change.Incident.Id] = now;
                Enqueue(change.Incident, closed: false);
                break;
            case IncidentChange.Closed:
                _named.Remove(change.Incident.Id);
                Enqueue(change.Incident, closed: true);
                break;
        }
    }

    /// <summary>Stops the thread, then has the engine withdraw everything (the collector is stopping).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _events.CompleteAdding();
        if (_thread.IsAlive)
        {
            _thread.Join(TimeSpan.FromSeconds(30));
        }

        _engine.Shutdown();
        _events.Dispose();
    }

    private static (AttackType, AttackType?, ulong) NameOf(IncidentRecord incident)
    {
        var vectors = 0UL;
        foreach (var vector in incident.Vectors)
        {
            vectors |= 1UL << ((int)vector & 63);
        }

        return (incident.AttackType, incident.Vector, vectors);
    }

    private void Enqueue(IncidentRecord incident, bool closed)
    {
        if (_engine.Mode == MitigationMode.Off)
        {
            return;
        }

        if (!_events.IsAddingCompleted && !_events.TryAdd((incident, closed)))
        {
            Interlocked.Increment(ref _droppedEvents);
            _engine.NoteDroppedEvent();
        }
    }

    private void Work()
    {
        var nextHousekeeping = _time.GetUtcNow();
        while (!_events.IsCompleted)
        {
            var wait = nextHousekeeping - _time.GetUtcNow();
            if (_events.TryTake(out var item, wait > TimeSpan.Zero ? (int)Math.Ceiling(wait.TotalMilliseconds) : 0))
            {
                Run(() => _engine.Handle(item.Incident, item.Closed));
            }

            if (_time.GetUtcNow() >= nextHousekeeping)
            {
                Run(_engine.Housekeep);
                nextHousekeeping = _time.GetUtcNow().AddSeconds(1);
            }
        }
    }

    private void Run(Action work)
    {
        try
        {
            work();
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // An action that fails is reported and retried; it never stops the worker.
            LogUnexpected(_logger, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "mitigation engine: unexpected failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
