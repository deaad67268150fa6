using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Pipeline;

/// <summary>
/// Closes each second once its boundary has passed, until stopped, on a thread of its own. A timer may fire a
/// little early, so the boundary is checked again; after a stall the missed seconds are closed one by one. Three
/// times during each second of a collector that received flows within the last minute, the detector probes the
/// second so far if flows arrived in it (an attack over its threshold already is opened then, not at the tick); a
/// router-mode node with no flows never wakes for it.
/// A fault here ends the host, and the process exits with a failure code so that its service manager restarts it.
/// </summary>
internal sealed partial class SecondClock(CollectorCore core, SecondPipeline pipeline, TimeProvider time, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>Probes of the second being counted, evenly spaced (at 250, 500 and 750 ms).</summary>
    private const int ProbesPerSecond = 3;

    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => RunAsync(stoppingToken);

    /// <summary>Runs the clock on a thread of its own until <paramref name="stopping"/>; the task faults if a second fails.</summary>
    public Task RunAsync(CancellationToken stopping)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                RunTicks(stopping);
                done.SetResult();
            }
            catch (Exception exception)
            {
                LogTickFailed(_logger, exception);
                done.SetException(exception);
            }
        })
        { IsBackground = true, Name = "tick" };
        thread.Start();
        return done.Task;
    }

    private void RunTicks(CancellationToken stopping)
    {
        // The thread waits on the sample inbox's event; stopping sets it too.
        using var wakeOnStop = stopping.Register(static inbox => ((SampleInbox)inbox!).Arrived.Set(), core.Samples);
        var toClose = core.Aggregator.CurrentSecond;
        var probes = 0;
        while (!stopping.IsCancellationRequested)
        {
            pipeline.Describe();
            var now = time.GetUtcNow();
            var boundary = DateTimeOffset.FromUnixTimeSeconds(toClose + 1);
            if (now >= boundary)
            {
                pipeline.Close(toClose);
                toClose++;
                probes = 0;
                continue;
            }

            var probeDue = pipeline.CanProbe && pipeline.FlowsRecently && probes < ProbesPerSecond;
            var probeAt = DateTimeOffset.FromUnixTimeSeconds(toClose).AddMilliseconds(1000.0 * (probes + 1) / (ProbesPerSecond + 1));
            if (probeDue && now >= probeAt)
            {
                // Nothing arrived since the tick: nothing to judge (an exporter that sends every other second).
                if (pipeline.FlowsThisSecond)
                {
                    pipeline.Probe();
                }

                probes++;
                continue;
            }

            // Timers have millisecond resolution and may fire early: a wait under a millisecond would become no wait
            // at all and spin until the boundary, so round it up to whole milliseconds.
            var wait = TimeSpan.FromMilliseconds(Math.Ceiling(((probeDue ? probeAt : boundary) - now).TotalMilliseconds));
            if (!Sleep(wait, stopping))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Waits on the tick's own thread; false once stopped. On the system clock the thread simply blocks, so an idle
    /// collector wakes once a second and no timer or thread-pool thread with it; another clock's timers are awaited.
    /// </summary>
    private bool Sleep(TimeSpan wait, CancellationToken stopping)
    {
        if (ReferenceEquals(time, TimeProvider.System))
        {
            // A packet sample that finished wakes the thread early: its incident is described without waiting a tick.
            core.Samples.Arrived.WaitOne(wait);
            return !stopping.IsCancellationRequested;
        }

        try
        {
            Task.Delay(wait, time, stopping).GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "the one-second tick failed; the collector stops with exit code 70 so that its service manager restarts it")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);
}
