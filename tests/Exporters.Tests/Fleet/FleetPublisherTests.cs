using System.Text.Json;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Fleet;
using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace FlowCollector.Exporters.Tests.Fleet;

/// <summary>The node's publisher against a real nats-server with JetStream, absent at first.</summary>
public sealed class FleetPublisherTests
{
    [Fact]
    public async Task Publisher_WhileNatsIsDown_KeepsABoundedBufferLosingSummariesFirst_ThenSendsEachEventOnceInOrder()
    {
        NatsServer.Require();
        await using var nats = new NatsServer();
        var options = new FleetOptions { Nats = { Url = nats.Url }, BufferMessages = 5 };
        var prefixes = new MonitoredPrefixes([FlowCollector.Decoders.IpPrefix.Parse("203.0.113.0/24")]);
        var publisher = new FleetPublisher(options, "pop-a", "0.9.0", prefixes, _ => [], string.Empty, TimeProvider.System, NullLogger.Instance);
        await using (publisher)
        {
            publisher.Start();
            var now = DateTimeOffset.UtcNow;
            var incidents = Enumerable.Range(1, 3).Select(id => AlertEvent.Sample("pop-a", now, null).Incident with { Id = id, Node = "pop-a" }).ToList();
            foreach (var incident in incidents)
            {
                publisher.OnIncident(new IncidentEvent(IncidentChange.Opened, incident, default));
            }

            var aggregator = new RateAggregator(new AggregationOptions(), prefixes, new InterfaceNames(), now.ToUnixTimeSeconds() - 4);
            for (var second = now.ToUnixTimeSeconds() - 4; second < now.ToUnixTimeSeconds(); second++)
            {
                publisher.OnSecond(aggregator.Tick(second));
            }

            // Seven messages into a buffer of five: the two oldest summaries go, no event does.
            Assert.Equal(5, publisher.Buffered);
            Assert.Equal(2, publisher.Counters[("summary", "dropped_full")]);
            Assert.False(publisher.Connected);

            await nats.StartAsync();
            await Eventually.True(() => Task.FromResult(publisher.Buffered == 0), "the buffer drains once NATS is up", seconds: 30);
            Assert.Equal(3, publisher.Counters[("event", "published")]);
            Assert.Equal(2, publisher.Counters[("summary", "published")]);

            // The same change told again (a retry after a lost acknowledgement) is stored once.
            publisher.OnIncident(new IncidentEvent(IncidentChange.Opened, incidents[0], default));
            await Eventually.True(() => Task.FromResult(publisher.Counters.GetValueOrDefault(("event", "duplicate")) == 1), "JetStream recognises the repeat", seconds: 30);

            await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
            var js = new NatsJSContext(connection);
            var events = await Read(js, FleetSubjects.EventStream("flowcollector"));
            Assert.Equal([1L, 2L, 3L], events.Select(e => e.GetProperty("incident").GetProperty("id").GetInt64()));
            Assert.All(events, e => Assert.Equal("pop-a", e.GetProperty("node").GetString()));
            Assert.All(events, e => Assert.Equal("opened", e.GetProperty("event").GetString()));
            var summaries = (await js.GetStreamAsync(FleetSubjects.SummaryStream("flowcollector"))).Info.State.Messages;
            Assert.Equal(2, summaries);
        }
    }

    [Fact]
    public async Task Resume_AfterAHardStop_SendsAgainOnlyTheIncidentsThatClosedAfterTheLastAcknowledgedChange()
    {
        NatsServer.Require();
        await using var nats = new NatsServer();
        await nats.StartAsync();
        var directory = Directory.CreateTempSubdirectory("flowcollector-fleet-watermark-");
        var watermark = Path.Combine(directory.FullName, "fleet-published");
        var options = new FleetOptions { Nats = { Url = nats.Url } };
        var prefixes = new MonitoredPrefixes([]);
        // Changes after the first run started (the first run's start is where its watermark begins).
        var now = DateTimeOffset.UtcNow.AddSeconds(5);
        var first = AlertEvent.Sample("pop-a", now, null).Incident with { Id = 1, Node = "pop-a", ClosedAt = now, UpdatedAt = now };
        var second = first with { Id = 2, ClosedAt = now.AddSeconds(10), UpdatedAt = now.AddSeconds(10) };
        var open = first with { Id = 3, ClosedAt = null, UpdatedAt = now.AddSeconds(15) };
        try
        {
            // The first run (no file yet) sends nothing old, then remembers what JetStream acknowledged.
            await using (var before = new FleetPublisher(options, "pop-a", "0.9.0", prefixes, _ => [], string.Empty, TimeProvider.System, NullLogger.Instance))
            {
                before.Resume(watermark, [first]);
                Assert.Equal(0, before.Buffered);
                before.Start();
                before.OnIncident(IncidentEvent.Closed(first));
                await Eventually.True(() => Task.FromResult(File.Exists(watermark) && File.ReadAllText(watermark) == first.UpdatedAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)), "the watermark is written", seconds: 30);
            }

            // The next run finds incident 2 closed after it: its resolved event may never have gone, so it goes now.
            await using var after = new FleetPublisher(options, "pop-a", "0.9.0", prefixes, _ => [], string.Empty, TimeProvider.System, NullLogger.Instance);
            after.Resume(watermark, [open, second, first]);
            Assert.Equal(1, after.Buffered);
            after.Start();
            await Eventually.True(() => Task.FromResult(after.Buffered == 0), "the resolved event goes", seconds: 30);
            await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
            var events = await Read(new NatsJSContext(connection), FleetSubjects.EventStream("flowcollector"));
            Assert.Equal(["1 resolved", "2 resolved"], events.Select(e => $"{e.GetProperty("incident").GetProperty("id").GetInt64()} {e.GetProperty("event").GetString()}"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<List<JsonElement>> Read(NatsJSContext js, string stream)
    {
        var consumer = await js.CreateOrderedConsumerAsync(stream);
        var read = new List<JsonElement>();
        await foreach (var message in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 100 }))
        {
            read.Add(JsonDocument.Parse(message.Data!).RootElement.Clone());
        }

        return read;
    }
}
