using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using FlowCollector.Collector.Alerts;
using FlowCollector.Collector.Hosting;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Collector.Http;

/// <summary>What the collector serves: /metrics, /healthz and the JSON API, each streamed as it is written.</summary>
internal sealed class CollectorEndpoints(CollectorCore core, SecondPipeline pipeline, StorageService storage, AlertService alerts, CollectorHealth health)
{
    /// <summary>The most incidents one page of <c>/api/incidents</c> holds; older ones are paged with <c>before=ID</c>.</summary>
    public const int MaxIncidentPage = 1000;

    public IEnumerable<Endpoint> All()
    {
        yield return new Endpoint("/metrics", "text/plain; version=0.0.4; charset=utf-8", (response, _, cancellation) => core.Metrics.ExportAsync(response.Body, cancellation));
        yield return new Endpoint("/healthz", "application/json", (response, _, cancellation) =>
        {
            var reasons = health.Degradations();
            response.Status = reasons.Count == 0 ? 200 : 503;
            return WriteDocumentAsync(response, health.Document(reasons), CollectorJsonContext.Default.HealthDocument, cancellation);
        });
        yield return new Endpoint("/api/interfaces", "application/json", (response, _, cancellation) =>
            WriteDocumentAsync(response, pipeline.Interfaces, CollectorJsonContext.Default.IReadOnlyListInterfaceRate, cancellation));
        yield return new Endpoint("/api/mitigations", "application/json", WriteMitigationsAsync);
        yield return new Endpoint("/api/incidents", "application/json", WriteIncidentsAsync);
        yield return new Endpoint("/api/alerts", "application/json", WriteAlertsAsync);
        yield return new Endpoint("/api/incidents/", "application/vnd.tcpdump.pcap", WritePcapAsync);
    }

    /// <summary><c>/api/incidents/ID/pcap</c>: the incident's capture file, streamed as it is read.</summary>
    private async Task WritePcapAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var parts = request.Path["/api/incidents/".Length..].Split('/');
        if (parts.Length != 2 || parts[1] != "pcap" || !TryPositive(parts[0], out long id))
        {
            await NotFoundAsync(response, "not found (the capture of an incident is /api/incidents/ID/pcap)", cancellation).ConfigureAwait(false);
            return;
        }

        var path = string.Empty;
        var reason = $"incident {id} has no pcap: the store is not open";
        if (storage.Store is not { } store || !IncidentPcaps.TryLocate(store, id, out _, out path, out reason))
        {
            await NotFoundAsync(response, reason, cancellation).ConfigureAwait(false);
            return;
        }

        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, useAsync: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            await NotFoundAsync(response, $"incident {id}: its pcap cannot be read ({exception.Message})", cancellation).ConfigureAwait(false);
            return;
        }

        await using (file.ConfigureAwait(false))
        {
            response.AddHeader("Content-Disposition", $"attachment; filename=\"incident-{id}.pcap\"");
            await file.CopyToAsync(response.Body, cancellation).ConfigureAwait(false);
        }
    }

    private static async Task NotFoundAsync(HttpResponse response, string message, CancellationToken cancellation)
    {
        response.Status = 404;
        response.ContentType = "text/plain; charset=utf-8";
        await response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes(message + "\n"), cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Newest first from the store, streamed as rows are read: <c>?open=true</c> for open ones only, <c>limit=N</c>
    /// (default and at most <see cref="MaxIncidentPage"/>), <c>before=ID</c> for the page of incidents older than ID.
    /// </summary>
    private async Task WriteIncidentsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var openOnly = false;
        var limit = MaxIncidentPage;
        var before = long.MaxValue;
        foreach (var (name, value) in QueryPairs(request.Query))
        {
            if (name == "id")
            {
                // One incident (what alert events link to): the page that ends with it.
                if (!TryPositive(value, out long id))
                {
                    await BadQueryAsync(response, $"id: '{value}' is not an incident id", cancellation).ConfigureAwait(false);
                    return;
                }

                var one = storage.Store?.IncidentPage(openOnly: false, 1, id + 1).Where(i => i.Id == id) ?? [];
                await StreamArrayAsync(response, one, IncidentJson.Write, cancellation).ConfigureAwait(false);
                return;
            }

            if (name == "open")
            {
                openOnly = value is "true" or "1";
            }
            else if (name == "limit" && !TryPositive(value, out limit))
            {
                await BadQueryAsync(response, $"limit: '{value}' is not a positive whole number", cancellation).ConfigureAwait(false);
                return;
            }
            else if (name == "before" && !TryPositive(value, out before))
            {
                await BadQueryAsync(response, $"before: '{value}' is not an incident id", cancellation).ConfigureAwait(false);
                return;
            }
        }

        var rows = storage.Store?.IncidentPage(openOnly, Math.Min(limit, MaxIncidentPage), before) ?? [];
        await StreamArrayAsync(response, rows, IncidentJson.Write, cancellation).ConfigureAwait(false);
    }

    /// <summary>Alert deliveries newest first from the outbox; <c>?pending=true</c> for those still to go.</summary>
    private async Task WriteAlertsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        if (QueryPairs(request.Query).FirstOrDefault(p => p.Name == "id") is { Value: { Length: > 0 } eventId })
        {
            // One delivery's event document, byte for byte what the channel was (or will be) sent.
            if (alerts.Outbox?.Document(eventId) is not { } document)
            {
                response.Status = 404;
                response.ContentType = "text/plain; charset=utf-8";
                await response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"no alert delivery {eventId}\n"), cancellation).ConfigureAwait(false);
                return;
            }

            await response.Body.WriteAsync(document, cancellation).ConfigureAwait(false);
            return;
        }

        var pendingOnly = QueryPairs(request.Query).Any(p => p.Name == "pending" && p.Value is "true" or "1");
        await StreamArrayAsync(response, alerts.Outbox?.List(pendingOnly) ?? [], AlertDeliveryJson.Write, cancellation).ConfigureAwait(false);
    }

    /// <summary>Newest first from the store; <c>?active=true</c> for actions not withdrawn.</summary>
    private async Task WriteMitigationsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var activeOnly = QueryPairs(request.Query).Any(p => p.Name == "active" && p.Value is "true" or "1");
        await StreamArrayAsync(response, storage.Store?.Actions(activeOnly) ?? [], MitigationJson.Write, cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// A small document (health, interface rates) serialised whole through the generated fast path, then sent
    /// asynchronously.
    /// </summary>
    internal static async Task WriteDocumentAsync<T>(HttpResponse response, T document, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, document, type);
        }

        await response.Body.WriteAsync(buffer.WrittenMemory, cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// A JSON array written row by row into a buffer that goes to the client, asynchronously, whenever it holds a
    /// chunk's worth: memory stays at about one chunk however many rows, and no write blocks a thread.
    /// </summary>
    internal static async Task StreamArrayAsync<T>(HttpResponse response, IEnumerable<T> rows, Action<Utf8JsonWriter, T> write, CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(2 * HttpResponse.BufferSize);
        await using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartArray();
        foreach (var row in rows)
        {
            write(writer, row);
            writer.Flush();
            if (buffer.WrittenCount >= HttpResponse.BufferSize)
            {
                await response.Body.WriteAsync(buffer.WrittenMemory, cancellation).ConfigureAwait(false);
                buffer.ResetWrittenCount();
            }
        }

        writer.WriteEndArray();
        writer.Flush();
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellation).ConfigureAwait(false);
    }

    /// <summary>A query string's name=value pairs, unescaped; a bare name reads as true.</summary>
    internal static IEnumerable<(string Name, string Value)> QueryPairs(string query) =>
        query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair => pair.IndexOf('=', StringComparison.Ordinal) is var equals and > 0
            ? (Uri.UnescapeDataString(pair[..equals]), Uri.UnescapeDataString(pair[(equals + 1)..]))
            : (Uri.UnescapeDataString(pair), "true"));

    internal static bool TryPositive(string value, out int parsed) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out parsed) && parsed > 0;

    private static bool TryPositive(string value, out long parsed) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out parsed) && parsed > 0;

    internal static async Task BadQueryAsync(HttpResponse response, string message, CancellationToken cancellation)
    {
        response.Status = 400;
        response.ContentType = "text/plain; charset=utf-8";
        await response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes(message + "\n"), cancellation).ConfigureAwait(false);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(HealthDocument))]
[JsonSerializable(typeof(IReadOnlyList<InterfaceRate>))]
internal sealed partial class CollectorJsonContext : JsonSerializerContext;
