using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using FlowCollector.Decoders;
using FlowCollector.Collector.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>The runtime's clock, stepped one second at a time with a fake time provider.</summary>
public sealed class TickTests
{
    [Fact]
    public async Task RunAsync_ClockAdvancingSecondBySecond_ClosesEachSecondExactlyOnce()
    {
        var fake = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var time = new EarlyTimers(fake);
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" } };
        using var host = CollectorHost.Build(options, time);
        var core = host.Services.GetRequiredService<CollectorCore>();
        var pipeline = host.Services.GetRequiredService<SecondPipeline>();
        var shard = core.Aggregator.CreateShard();
        shard.Enter();
        shard.OnFlow(new FlowRecord
        {
            Format = ExportFormat.NetFlowV9,
            Exporter = NetworkAddress.Parse("192.0.2.1"),
            IpVersion = 4,
            Packets = 1000,
            Bytes = 1_000_000,
            SamplingRate = 1,
            StartMilliseconds = 0,
            EndMilliseconds = 10_000,
        });
        shard.Exit();

        using var stop = new CancellationTokenSource();
        var running = host.Services.GetRequiredService<SecondClock>().RunAsync(stop.Token);
        for (var second = 0; second < 15; second++)
        {
            // Real timers fire a little early at times: these fire 2 ms early, always, and the clock creeps up to
            // each boundary a millisecond at a time. The clock jumps only once the tick's thread waits on a timer set
            // after the last boundary: a jump between its reading the clock and setting the timer would delay the
            // timer by the jump, which no real clock does.
            var closing = 1_700_000_000 + second;
            await Eventually.Until(() => time.ArmedSince(DateTimeOffset.FromUnixTimeSeconds(closing)) ? "armed" : null, "the tick's timer");
            var nearBoundary = DateTimeOffset.FromUnixTimeSeconds(closing + 1).AddMilliseconds(-10);
            if (fake.GetUtcNow() < nearBoundary)
            {
                fake.SetUtcNow(nearBoundary);
            }

            for (var millisecond = 0; millisecond < 500 && pipeline.LastSecond < closing; millisecond++)
            {
                fake.Advance(TimeSpan.FromMilliseconds(1));
                await Task.Delay(2);
            }

            Assert.Equal(closing + 1, core.Aggregator.CurrentSecond);
            Assert.Equal(closing, pipeline.LastSecond);
        }

        await stop.CancelAsync();
        await running;

        // 1000 packets over 10 seconds, each second closed once: the counters hold 1000, not a multiple.
        using var metrics = new MemoryStream();
        await core.Metrics.ExportAsync(metrics, CancellationToken.None);
        var text = System.Text.Encoding.UTF8.GetString(metrics.ToArray());
        var line = text.Split('\n').Single(l => l.StartsWith("flowcollector_node_packets_total{source=\"netflow\"}", StringComparison.Ordinal));
        Assert.Equal(1000.0, double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture), 6);
    }

    [Fact]
    public async Task RunAsync_SystemClock_ClosesSecondsInOrderOnItsOwnThreadAndStopsWhenCancelled()
    {
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" } };
        using var host = CollectorHost.Build(options, TimeProvider.System);
        var core = host.Services.GetRequiredService<CollectorCore>();
        var pipeline = host.Services.GetRequiredService<SecondPipeline>();
        var first = core.Aggregator.CurrentSecond;

        using var stop = new CancellationTokenSource();
        var running = host.Services.GetRequiredService<SecondClock>().RunAsync(stop.Token);
        await Eventually.True(() => Task.FromResult(pipeline.LastSecond >= first + 2 || running.IsCompleted), "three seconds closed", pollMilliseconds: 50);
        Assert.False(running.IsCompleted, running.Exception?.ToString());

        // Each second closed once its boundary had passed, never before.
        Assert.True(DateTimeOffset.UtcNow >= DateTimeOffset.FromUnixTimeSeconds(first + 3));
        Assert.Equal(first + 3, core.Aggregator.CurrentSecond);
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(running.IsCompletedSuccessfully);
    }

    /// <summary>A clock whose longer timers fire 2 ms before they are due, as real ones sometimes do.</summary>
    private sealed class EarlyTimers(FakeTimeProvider fake) : TimeProvider
    {
        private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(2);
        private long _lastArmedTicks = long.MinValue;

        public override DateTimeOffset GetUtcNow() => fake.GetUtcNow();

        /// <summary>Whether a timer was set at or after <paramref name="time"/> (on the fake clock).</summary>
        public bool ArmedSince(DateTimeOffset time) => Interlocked.Read(ref _lastArmedTicks) >= time.UtcTicks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var armedAt = fake.GetUtcNow();
            var timer = fake.CreateTimer(callback, state, dueTime > Early * 2 ? dueTime - Early : dueTime, period);
            Interlocked.Exchange(ref _lastArmedTicks, armedAt.UtcTicks);
            return timer;
        }
    }
}
