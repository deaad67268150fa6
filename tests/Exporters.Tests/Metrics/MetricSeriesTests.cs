using System.Text;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Metrics;

namespace FlowCollector.Exporters.Tests.Metrics;

/// <summary>
/// Series come and go with what they describe, and their number is capped: forged interfaces and exporters must not
/// leave thousands of series behind in every scrape.
/// </summary>
public sealed class MetricSeriesTests
{
    private const long Start = 1_800_000_000;
    private static readonly NetworkAddress Router = NetworkAddress.Parse("192.0.2.1");

    private static async Task<string> Scrape(CollectorMetrics metrics)
    {
        using var body = new MemoryStream();
        await metrics.ExportAsync(body, CancellationToken.None);
        return Encoding.UTF8.GetString(body.ToArray());
    }

    private static int Lines(string text, string prefix) => text.Split('\n').Count(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>One second of traffic on the given interfaces of the router, through the real aggregator.</summary>
    private static TrafficSecond Second(RateAggregator aggregator, long second, IEnumerable<uint> interfaces)
    {
        var shard = aggregator.CreateShard();
        shard.Enter();
        foreach (var index in interfaces)
        {
            shard.OnFlow(new FlowRecord
            {
                Format = ExportFormat.NetFlowV9,
                Exporter = Router,
                InputInterface = index,
                OutputInterface = 0,
                Packets = 10,
                Bytes = 10_000,
                SamplingRate = 1,
                StartMilliseconds = second * 1000,
                EndMilliseconds = second * 1000,
            });
        }

        shard.Exit();
        return aggregator.Tick(second);
    }

    [Fact]
    public async Task RecordSecond_InterfacesIdleAsLongAsTheAggregationKeepsThem_LoseTheirSeries()
    {
        var aggregator = new RateAggregator(new AggregationOptions { IdleSeconds = 10 }, MonitoredPrefixes.None, new InterfaceNames(), Start);
        var metrics = new CollectorMetrics("edge-1", idleSeconds: 10);

        // A burst of 200 interfaces, then traffic on interface 1 alone.
        metrics.RecordSecond(Second(aggregator, Start, Enumerable.Range(1, 200).Select(i => (uint)i)), aggregator.Names);
        // 200 ingress interfaces, and egress through interface 0 (the records name no output interface).
        Assert.Equal(201, Lines(await Scrape(metrics), "flowcollector_interface_packets_total{"));
        for (var s = Start + 1; s <= Start + 12; s++)
        {
            metrics.RecordSecond(Second(aggregator, s, [1u]), aggregator.Names);
        }

        var text = await Scrape(metrics);
        Assert.Equal(2, Lines(text, "flowcollector_interface_packets_total{"));
        Assert.Equal(2, Lines(text, "flowcollector_interface_packets_per_second{"));
        Assert.Contains("interface=\"1\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordSecond_MoreInterfacesThanTheCap_AreCountedUnlisted()
    {
        var aggregator = new RateAggregator(new AggregationOptions(), MonitoredPrefixes.None, new InterfaceNames(), Start);
        var metrics = new CollectorMetrics("edge-1", maxInterfaceSeries: 50);

        metrics.RecordSecond(Second(aggregator, Start, Enumerable.Range(1, 80).Select(i => (uint)i)), aggregator.Names);

        var text = await Scrape(metrics);
        Assert.Equal(50, Lines(text, "flowcollector_interface_packets_total{"));
        // 80 ingress interfaces and the egress one: 31 without series.
        Assert.Contains("flowcollector_interfaces_unlisted 31", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordExporters_ForgottenExportersLoseTheirSeries_AndRealOnesAreListedBeforeJunk()
    {
        var decoder = new FlowDecoder(new FlowDecoderOptions { ExporterIdleLifetime = TimeSpan.FromMinutes(5) });
        var metrics = new CollectorMetrics("edge-1", maxExporterSeries: 10);
        var now = Start * 1000;

        // 30 senders of garbage (a NetFlow v5 header that claims records and carries none), then one real exporter.
        var garbage = new byte[24];
        garbage[1] = 5;
        garbage[3] = 1;
        var sink = new NullSink();
        for (var i = 0; i < 30; i++)
        {
            decoder.Decode(garbage, NetworkAddress.FromIPv4(0xCB007100u + (uint)i), now, ref sink);
        }

        var record = new byte[24 + 48];
        record[1] = 5;
        record[3] = 1;
        record[24 + 19] = 10;
        record[24 + 23] = 100;
        record[24 + 38] = 17;
        decoder.Decode(record, Router, now, ref sink);

        metrics.RecordExporters(decoder.Exporters);
        var text = await Scrape(metrics);
        Assert.Equal(10, Lines(text, "flowcollector_exporter_datagrams_total{"));
        Assert.Contains("flowcollector_exporter_records_total{exporter=\"192.0.2.1\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("flowcollector_exporters_unlisted 21", text, StringComparison.Ordinal);

        // Five minutes later the junk is forgotten by the decoder, and its series go with it.
        decoder.Exporters.Expire(now + (long)TimeSpan.FromMinutes(6).TotalMilliseconds);
        metrics.RecordExporters(decoder.Exporters);
        text = await Scrape(metrics);
        Assert.Equal(0, Lines(text, "flowcollector_exporter_datagrams_total{"));
        Assert.Contains("flowcollector_exporters_evicted_total 31", text, StringComparison.Ordinal);
    }

    private readonly struct NullSink : IFlowSink
    {
        public void OnFlow(in FlowRecord flow)
        {
        }

        public void OnCounters(in InterfaceCounters counters)
        {
        }

        public void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
