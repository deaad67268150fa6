using System.Collections.Concurrent;
using FlowCollector.Detection.Fleet;
using FlowCollector.Exporters.Fleet;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace FlowCollector.Collector.Fleet;

/// <summary>
/// The fleet service's reading of what nodes publish, through two durable consumers (a restart resumes where they
/// stopped): incident events are stored in PostgreSQL and only then acknowledged (PostgreSQL down: they are
/// redelivered, and storing is idempotent), summaries are added to the sums and acknowledged. A message that cannot
/// be read is counted and terminated, never retried for ever.
/// </summary>
internal sealed partial class FleetConsumer(FleetOptions options, FleetStore store, FleetSums sums, ExplainedKeys explained, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, long> _summaryOutcomes = new();
    private readonly ConcurrentDictionary<string, long> _eventOutcomes = new();
    private readonly ConcurrentDictionary<string, (string? Version, DateTimeOffset At)> _seen = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSummary = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private NatsConnection? _connection;
    private long _pendingEvents;
    private long _pendingSummaries;
    private double _lag;

    public bool Connected => _connection?.ConnectionState == NatsConnectionState.Open;

    public FleetConsumerCounters Counters(long fleetIncidents)
    {
        var now = time.GetUtcNow();
        return new FleetConsumerCounters(
            _summaryOutcomes,
            _eventOutcomes,
            Interlocked.Read(ref _pendingEvents),
            Interlocked.Read(ref _pendingSummaries),
            Volatile.Read(ref _lag),
            _lastSummary.Count,
            _lastSummary.Values.Count(at => now - at < TimeSpan.FromSeconds(10)),
            Connected,
            fleetIncidents);
    }

    /// <summary>Connects, creates what is missing (streams, consumers), and starts consuming.</summary>
    public async Task StartAsync(CancellationToken cancellation)
    {
        _connection = new NatsConnection(FleetSubjects.Connection(options.Nats, "flowcollector fleet"));
        await _connection.ConnectAsync().ConfigureAwait(false);
        var js = new NatsJSContext(_connection);
        var subject = options.Nats.Subject;
        await FleetSubjects.EnsureStreamsAsync(js, subject, options.EventRetentionHours, cancellation).ConfigureAwait(false);
        var events = await js.CreateOrUpdateConsumerAsync(FleetSubjects.EventStream(subject), Durable(FleetNames.EventConsumer, $"{subject}.events.*", 1000), cancellation).ConfigureAwait(false);
        var summaries = await js.CreateOrUpdateConsumerAsync(FleetSubjects.SummaryStream(subject), Durable(FleetNames.SummaryConsumer, $"{subject}.summaries.*", 10_000), cancellation).ConfigureAwait(false);
        _loops.Add(Task.Run(() => ConsumeAsync(events, "events", 500, HandleEventAsync, _stopping.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => ConsumeAsync(summaries, "summaries", 1000, HandleSummaryAsync, _stopping.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => RefreshAsync([events, summaries], _stopping.Token), CancellationToken.None));
    }

    /// <summary>A durable pull consumer whose every message is acknowledged (or not) by the fleet explicitly.</summary>
    private static ConsumerConfig Durable(string name, string subjects, int maxAckPending) => new(name)
    {
        AckPolicy = ConsumerConfigAckPolicy.Explicit,
        AckWait = TimeSpan.FromSeconds(30),
        FilterSubject = subjects,
        MaxAckPending = maxAckPending,
    };

    /// <summary>Hands each message to <paramref name="handle"/> until stopped; a broken connection is waited out.</summary>
    private async Task ConsumeAsync(INatsJSConsumer consumer, string stream, int batch, Func<INatsJSMsg<byte[]>, CancellationToken, Task> handle, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await foreach (var message in consumer.ConsumeAsync<byte[]>(opts: new NatsJSConsumeOpts { MaxMsgs = batch }, cancellationToken: stopping).ConfigureAwait(false))
                {
                    await handle(message, stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is NatsException or OperationCanceledException or TimeoutException or IOException)
            {
                LogConsumeFailed(logger, stream, exception.Message);
                await Pause(stopping).ConfigureAwait(false);
            }
        }
    }

    private async Task HandleEventAsync(INatsJSMsg<byte[]> message, CancellationToken stopping)
    {
        var node = FleetSubjects.NodeOf(message.Subject);
        if (!FleetEvent.TryParse(message.Data ?? [], node, out var change, out var error))
        {
            Count(_eventOutcomes, "malformed");
            LogMalformedEvent(logger, node, error);
            await message.AckTerminateAsync(cancellationToken: stopping).ConfigureAwait(false);
            return;
        }

        try
        {
            var added = await store.StoreAsync(change!, stopping).ConfigureAwait(false);
            Count(_eventOutcomes, added ? "stored" : "duplicate");
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // Not acknowledged: JetStream delivers it again once PostgreSQL is back, and storing it then is idempotent.
            Count(_eventOutcomes, "failed");
            LogStoreFailed(logger, change!.Node, change.IncidentId, exception.Message);
            await message.NakAsync(new AckOpts { NakDelay = TimeSpan.FromSeconds(2) }, stopping).ConfigureAwait(false);
            return;
        }

        if (change!.Node != FleetNames.Node)
        {
            explained.Update(change.Node, change.IncidentId, change.KeyKind, change.Address, change.ClosedAt is null);
        }

        Seen(node, message.Headers);
        await message.AckAsync(cancellationToken: stopping).ConfigureAwait(false);
    }

    private async Task HandleSummaryAsync(INatsJSMsg<byte[]> message, CancellationToken stopping)
    {
        HandleSummary(message);
        await message.AckAsync(cancellationToken: stopping).ConfigureAwait(false);
    }

    /// <summary>Adds one summary message's entries to the sums (the consuming task).</summary>
    private void HandleSummary(INatsJSMsg<byte[]> message)
    {
        var node = FleetSubjects.NodeOf(message.Subject);
        var data = message.Data ?? [];
        if (!SummaryCodec.TryReadHeader(data, out var header))
        {
            Count(_summaryOutcomes, "malformed");
            return;
        }

        var now = time.GetUtcNow();
        Volatile.Write(ref _lag, Math.Max(0, (now.ToUnixTimeMilliseconds() / 1000.0) - (header.Second + 1)));
        var index = sums.NodeIndex(node);
        var clock = now.ToUnixTimeSeconds();
        var offset = SummaryCodec.HeaderSize;
        var added = 0L;
        for (var i = 0; i < header.Entries; i++)
        {
            if (!SummaryCodec.TryReadEntry(data, ref offset, out var entry))
            {
                // The rest of a damaged message cannot be found: what was read stays added.
                Count(_summaryOutcomes, "malformed", header.Entries - i);
                break;
            }

            var outcome = sums.Add(index, header.Second, entry, clock);
            if (outcome == SumOutcome.Added)
            {
                added++;
            }
            else
            {
                Count(_summaryOutcomes, Name(outcome));
            }
        }

        Count(_summaryOutcomes, "added", added);
        _lastSummary[node] = now;
        Seen(node, message.Headers);
    }

    private static string Name(SumOutcome outcome) => outcome switch
    {
        SumOutcome.Late => "late",
        SumOutcome.Future => "future",
        SumOutcome.Unmonitored => "unmonitored",
        SumOutcome.Overflow => "overflow",
        _ => "added",
    };

    private void Seen(string node, NatsHeaders? headers)
    {
        var version = headers is not null && headers.TryGetValue("FlowCollector-Version", out var values) ? values.ToString() : null;
        _seen[node] = (version, time.GetUtcNow());
    }

    /// <summary>Once a second: the nodes heard from go to PostgreSQL, and the consumers' backlog is read.</summary>
    private async Task RefreshAsync(INatsJSConsumer[] consumers, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var batch = new List<(string, string?, DateTimeOffset)>();
            foreach (var node in _seen.Keys.ToList())
            {
                if (_seen.TryRemove(node, out var seen))
                {
                    batch.Add((node, seen.Version, seen.At));
                }
            }

            try
            {
                await store.SeenAsync(batch, stopping).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // Kept for the next second (unless newer news of the node arrived meanwhile).
                foreach (var (node, version, at) in batch)
                {
                    _seen.TryAdd(node, (version, at));
                }

                LogSeenFailed(logger, exception.Message);
            }

            try
            {
                await consumers[0].RefreshAsync(stopping).ConfigureAwait(false);
                await consumers[1].RefreshAsync(stopping).ConfigureAwait(false);
                Interlocked.Exchange(ref _pendingEvents, (long)consumers[0].Info.NumPending);
                Interlocked.Exchange(ref _pendingSummaries, (long)consumers[1].Info.NumPending);
            }
            catch (Exception exception) when (exception is NatsException or OperationCanceledException or TimeoutException)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    private async Task Pause(CancellationToken stopping)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void Count(ConcurrentDictionary<string, long> counters, string outcome, long by = 1)
    {
        if (by > 0)
        {
            counters.AddOrUpdate(outcome, by, (_, n) => n + by);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: consuming {Stream} failed ({Reason}); retrying")]
    private static partial void LogConsumeFailed(ILogger logger, string stream, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: an event from node {Node} was dropped: {Reason}")]
    private static partial void LogMalformedEvent(ILogger logger, string node, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: incident {Id} of node {Node} could not be stored ({Reason}); it will be delivered again")]
    private static partial void LogStoreFailed(ILogger logger, string node, long id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "fleet: nodes last seen could not be stored ({Reason})")]
    private static partial void LogSeenFailed(ILogger logger, string reason);
}
