using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Runtime;
using FlowCollector.Decoders;
using Microsoft.Extensions.Logging.Abstractions;
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
        await using var runtime = new CollectorRuntime(options, Path.GetTempPath(), time, NullLoggerFactory.Instance);
        var shard = runtime.Aggregator.CreateShard();
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
        var running = runtime.RunAsync(stop.Token);
        for (var second = 0; second < 15; second++)
        {
            // Real timers fire a little early at times: these fire 2 ms early, always, and the clock creeps up to
            // each boundary a millisecond at a time.
            fake.Advance(TimeSpan.FromMilliseconds(990));
            for (var millisecond = 0; millisecond < 10; millisecond++)
            {
                fake.Advance(TimeSpan.FromMilliseconds(1));
                await Task.Delay(2);
            }

            await WaitForSecond(runtime, 1_700_000_000 + second);
        }

        await stop.CancelAsync();
        await running;

        // 1000 packets over 10 seconds, each second closed once: the counters hold 1000, not a multiple.
        using var metrics = new MemoryStream();
        await runtime.Metrics.ExportAsync(metrics, CancellationToken.None);
        var text = System.Text.Encoding.UTF8.GetString(metrics.ToArray());
        var line = text.Split('\n').Single(l => l.StartsWith("flowcollector_node_packets_total{source=\"netflow\"}", StringComparison.Ordinal));
        Assert.Equal(1000.0, double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture), 6);
    }

    /// <summary>A clock whose longer timers fire 2 ms before they are due, as real ones sometimes do.</summary>
    private sealed class EarlyTimers(FakeTimeProvider fake) : TimeProvider
    {
        private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(2);

        public override DateTimeOffset GetUtcNow() => fake.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            fake.CreateTimer(callback, state, dueTime > Early * 2 ? dueTime - Early : dueTime, period);
    }

    private static async Task WaitForSecond(CollectorRuntime runtime, long second)
    {
        for (var i = 0; i < 200 && runtime.Aggregator.CurrentSecond <= second; i++)
        {
            await Task.Delay(5);
        }

        Assert.Equal(second + 1, runtime.Aggregator.CurrentSecond);
        Assert.Equal(second, runtime.LastSecond);
    }
}
