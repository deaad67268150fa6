using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FlowCollector.Collector.Tests.Support;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Collector.Tests.Http;

/// <summary>/api/incidents of a running collector over a database of many incidents: streamed, capped, paged.</summary>
public sealed class IncidentApiTests
{
    private const int Stored = 2_500;

    private static DirectoryInfo DatabaseOfManyIncidents()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-api-");
        Assert.True(IncidentStore.TryOpen(Path.Combine(directory.FullName, "flowcollector.db"), out var store, out var error), error);
        using (store)
        {
            var at = DateTimeOffset.UtcNow.AddHours(-1);
            for (var id = 1; id <= Stored; id++)
            {
                store!.Save(new IncidentRecord
                {
                    Id = id, Key = $"destination/203.0.113.{id % 250}", KeyKind = FlowCollector.Detection.Rates.KeyKind.Destination, Node = "edge-1", Address = $"203.0.113.{id % 250}",
                    AttackType = AttackType.UdpFlood, Confidence = 0.9, Severity = Severity.High, OpenedAt = at, UpdatedAt = at, ClosedAt = at, CloseReason = CloseReason.Calm,
                    FirstSecond = at.ToUnixTimeSeconds(), PeakPps = 1e5, PeakBps = 8e8, CurrentPps = 0, CurrentBps = 0, Threshold = 1e4, ThresholdMetric = FlowCollector.Detection.Baselines.DetectionMetric.Pps,
                });
            }

            Assert.True(store!.Flush(TimeSpan.FromSeconds(60)));
        }

        return directory;
    }

    private static List<long> Ids(string json) => [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetInt64())];

    [Fact]
    public async Task ApiIncidents_LimitBeyondThePage_CapsAt1000AndPagesWithBefore()
    {
        var directory = DatabaseOfManyIncidents();
        try
        {
            await using var collector = await CollectorProcess.StartAsync(directory, null, "--set", "ProcNetDev:Mode=off");

            using var response = await collector.Client.GetAsync(new Uri("/api/incidents?limit=100000", UriKind.Relative));
            var first = Ids(await response.Content.ReadAsStringAsync());
            var second = Ids(await collector.GetAsync($"/api/incidents?limit=100000&before={first[^1]}"));
            var third = Ids(await collector.GetAsync($"/api/incidents?before={second[^1]}"));
            var small = Ids(await collector.GetAsync("/api/incidents?limit=5&before=100"));

            Assert.True(response.Headers.TransferEncodingChunked, "a page this large is streamed");
            Assert.Equal(Enumerable.Range(1, Stored).Reverse().Select(i => (long)i), [.. first, .. second, .. third]);
            Assert.Equal((1000, 1000, 500), (first.Count, second.Count, third.Count));
            Assert.Equal([99L, 98, 97, 96, 95], small);
            using var bad = await collector.Client.GetAsync(new Uri("/api/incidents?before=x", UriKind.Relative));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("before", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // One incident by id, as alert events link to it; an id the store does not hold is an empty page.
            Assert.Equal([1234L], Ids(await collector.GetAsync("/api/incidents?id=1234")));
            Assert.Empty(Ids(await collector.GetAsync($"/api/incidents?id={Stored + 1}")));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ApiIncidents_ApiTokenSet_NeedsItWhileMetricsStayOpen()
    {
        const string Token = "s3cret-token-for-the-api";
        await using var collector = await CollectorProcess.StartAsync("--set", "ProcNetDev:Mode=off", "--set", $"Http:ApiToken={Token}");

        using var refused = await collector.Client.GetAsync(new Uri("/api/incidents", UriKind.Relative));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/incidents", UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var allowed = await collector.Client.SendAsync(request);
        using var metrics = await collector.Client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal((HttpStatusCode.OK, "[]"), (allowed.StatusCode, await allowed.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact]
    public void CheckConfig_ShortApiToken_IsRefusedWithItsKey()
    {
        var (exit, _, error) = Flowcollector.Run("check-config", "--set", "Http:ApiToken=short");

        Assert.NotEqual(0, exit);
        Assert.Contains("Http:ApiToken: at least 16 printable ASCII characters", error, StringComparison.Ordinal);
    }
}
