using FlowCollector.Collector.Commands;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
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
        await using var runtime = new CollectorRuntime(options, Path.GetTempPath(), time, NullLoggerFactory.Instance);
        Assert.Empty(runtime.Degradations());

        // Ten seconds pass and no second is closed: detection is that far behind.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.InRange(runtime.TickLagSeconds, 10, 11);
        Assert.Contains(runtime.Degradations(), r => r.Contains("s behind", StringComparison.Ordinal));

        for (var second = runtime.Aggregator.CurrentSecond; second < 1_700_000_010; second++)
        {
            runtime.Tick(second);
        }

        Assert.Empty(runtime.Degradations());
    }

    [Fact]
    public void Serve_TheTickFails_ExitsWithTheFailureCodeNotZero()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var options = new CollectorOptions { ProcNetDev = { Mode = "off" } };
        builder.Services.AddSingleton(_ => new CollectorRuntime(options, Path.GetTempPath(), new BrokenClock(), NullLoggerFactory.Instance));
        builder.Services.AddHostedService<CollectorService>();
        using var host = builder.Build();

        Assert.Equal(RunCommand.RuntimeError, RunCommand.Serve(host));
    }

    /// <summary>A clock that works while the collector is built and fails once the tick reads it.</summary>
    private sealed class BrokenClock : TimeProvider
    {
        private int _reads;

        public override DateTimeOffset GetUtcNow() => Interlocked.Increment(ref _reads) <= 3
            ? DateTimeOffset.UtcNow
            : throw new InvalidOperationException("the clock broke");
    }
}
