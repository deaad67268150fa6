using FlowCollector.Collector.Commands;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// The collector says when it is not doing its job: /healthz is degraded while the tick lags, and a fault in the
/// tick ends the process with a failing exit code, so that a service manager restarts it.
/// </summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Degradations_TickFallsBehindTheClock_SaysSoAndRecoversOnceTheSecondsAreClosed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddMilliseconds(300));
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" } };
        using var host = CollectorHost.Build(options, time);
        var health = host.Services.GetRequiredService<CollectorHealth>();
        var pipeline = host.Services.GetRequiredService<SecondPipeline>();
        Assert.Empty(health.Degradations());

        // Ten seconds pass and no second is closed: detection is that far behind.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.InRange(pipeline.LagSeconds, 10, 11);
        Assert.Contains(health.Degradations(), r => r.Contains("s behind", StringComparison.Ordinal));

        for (var second = host.Services.GetRequiredService<CollectorCore>().Aggregator.CurrentSecond; second < 1_700_000_010; second++)
        {
            pipeline.Close(second);
        }

        Assert.Empty(health.Degradations());
    }

    [Fact]
    public void Serve_TheTickFails_ExitsWithTheFailureCodeNotZero()
    {
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" } };
        using var host = CollectorHost.Build(options, new BrokenClock());

        Assert.Equal(RunCommand.RuntimeError, RunCommand.Serve(host.Host));
    }

    /// <summary>A clock that fails when the tick's thread reads it, and works for every other part.</summary>
    private sealed class BrokenClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => Thread.CurrentThread.Name == "tick"
            ? throw new InvalidOperationException("the clock broke")
            : DateTimeOffset.UtcNow;
    }
}
