using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Http;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Fleet;

namespace FlowCollector.Collector.Fleet;

/// <summary>The fleet's /healthz.</summary>
internal sealed record FleetHealthDocument(string Status, IReadOnlyList<string> Reasons, string Version, string Node, double UptimeSeconds, long LastSecond, bool Nats, bool Postgres, int NodesReporting);

/// <summary>A node in <c>/api/nodes</c>.</summary>
internal sealed record FleetNodeDocument(string Node, string? Version, DateTime FirstSeen, DateTime LastSeen, long OpenIncidents);

/// <summary>
/// What the fleet service serves: /metrics, /healthz, <c>/api/incidents</c> across every node (filtered by node,
/// interface, type, severity, open and a time range) and <c>/api/nodes</c>.
/// </summary>
internal sealed class FleetEndpoints(CollectorCore core, FleetService fleet, TimeProvider time)
{
    public IEnumerable<Endpoint> All()
    {
        yield return new Endpoint("/metrics", "text/plain; version=0.0.4; charset=utf-8", (response, _, cancellation) => core.Metrics.ExportAsync(response.Body, cancellation));
        yield return new Endpoint("/healthz", "application/json", WriteHealthAsync);
        yield return new Endpoint("/api/incidents", "application/json", WriteIncidentsAsync);
        yield return new Endpoint("/api/nodes", "application/json", WriteNodesAsync);
    }

    private async Task WriteHealthAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var reasons = new List<string>();
        var nats = fleet.Consumer?.Connected ?? false;
        if (!nats)
        {
            reasons.Add("NATS is not connected: nodes' events and summaries wait in JetStream (or in the nodes' buffers)");
        }

        var postgres = fleet.Store is { } store && await store.PingAsync(cancellation).ConfigureAwait(false);
        if (!postgres)
        {
            reasons.Add("PostgreSQL does not answer: events are not acknowledged until it does");
        }

        var counters = fleet.Consumer?.Counters(0);
        response.Status = reasons.Count == 0 ? 200 : 503;
        var document = new FleetHealthDocument(
            reasons.Count == 0 ? "ok" : "degraded",
            reasons,
            BuildVersion.Text,
            core.Node,
            (time.GetUtcNow() - core.Started).TotalSeconds,
            fleet.LastSecond,
            nats,
            postgres,
            counters?.NodesReporting ?? 0);
        await CollectorEndpoints.WriteDocumentAsync(response, document, FleetJsonContext.Default.FleetHealthDocument, cancellation).ConfigureAwait(false);
    }

    /// <summary>Newest first; each incident as its node wrote it, with its actions.</summary>
    private async Task WriteIncidentsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        if (!TryReadFilter(request.Query, out var filter, out var error))
        {
            await CollectorEndpoints.BadQueryAsync(response, error, cancellation).ConfigureAwait(false);
            return;
        }

        if (fleet.Store is not { } store)
        {
            response.Status = 503;
            return;
        }

        var rows = await store.IncidentsAsync(filter, cancellation).ConfigureAwait(false);
        await CollectorEndpoints.StreamArrayAsync(response, rows, WriteIncident, cancellation).ConfigureAwait(false);
    }

    private static void WriteIncident(Utf8JsonWriter writer, (string Incident, IReadOnlyList<string> Actions) row)
    {
        using var document = JsonDocument.Parse(row.Incident);
        writer.WriteStartObject();
        foreach (var property in document.RootElement.EnumerateObject())
        {
            property.WriteTo(writer);
        }

        writer.WriteStartArray("actions");
        foreach (var action in row.Actions)
        {
            writer.WriteRawValue(action);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private async Task WriteNodesAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        if (fleet.Store is not { } store)
        {
            response.Status = 503;
            return;
        }

        var nodes = await store.NodesAsync(cancellation).ConfigureAwait(false);
        var documents = nodes.Select(n => new FleetNodeDocument(n.Node, n.Version, n.FirstSeen.UtcDateTime, n.LastSeen.UtcDateTime, n.OpenIncidents)).ToList();
        await CollectorEndpoints.WriteDocumentAsync<IReadOnlyList<FleetNodeDocument>>(response, documents, FleetJsonContext.Default.IReadOnlyListFleetNodeDocument, cancellation).ConfigureAwait(false);
    }

    /// <summary>node, interface, type, severity, open=true|false, since and until (ISO 8601 or Unix seconds), limit.</summary>
    internal static bool TryReadFilter(string query, out FleetIncidentFilter filter, out string error)
    {
        filter = new FleetIncidentFilter(null, null, null, null, null, null, null, CollectorEndpoints.MaxIncidentPage);
        foreach (var (name, value) in CollectorEndpoints.QueryPairs(query))
        {
            switch (name)
            {
                case "node":
                    filter = filter with { Node = value };
                    break;
                case "interface":
                    filter = filter with { Interface = value };
                    break;
                case "type" when AttackNames.TryParse(value, out AttackType _):
                    filter = filter with { Type = value };
                    break;
                case "type":
                    error = $"type: '{value}' is not an attack type ({string.Join(", ", AttackNames.All.Select(AttackNames.Name))})";
                    return false;
                case "severity" when AttackNames.TryParse(value, out Severity _):
                    filter = filter with { Severity = value };
                    break;
                case "severity":
                    error = $"severity: '{value}' is not low, medium, high or critical";
                    return false;
                case "open" when value is "true" or "1" or "false" or "0":
                    filter = filter with { Open = value is "true" or "1" };
                    break;
                case "open":
                    error = $"open: '{value}' is not true or false";
                    return false;
                case "since" or "until":
                    if (!TryTime(value, out var at))
                    {
                        error = $"{name}: '{value}' is not a time (ISO 8601, e.g. 2026-12-04T10:00:00Z, or Unix seconds)";
                        return false;
                    }

                    filter = name == "since" ? filter with { Since = at } : filter with { Until = at };
                    break;
                case "limit":
                    if (!CollectorEndpoints.TryPositive(value, out int limit))
                    {
                        error = $"limit: '{value}' is not a positive whole number";
                        return false;
                    }

                    filter = filter with { Limit = Math.Min(limit, CollectorEndpoints.MaxIncidentPage) };
                    break;
                default:
                    error = $"{name}: not a filter of /api/incidents (node, interface, type, severity, open, since, until, limit)";
                    return false;
            }
        }

        error = string.Empty;
        return true;
    }

    private static bool TryTime(string text, out DateTimeOffset at)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 100_000_000_000)
        {
            at = DateTimeOffset.FromUnixTimeSeconds(seconds);
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(FleetHealthDocument))]
[JsonSerializable(typeof(IReadOnlyList<FleetNodeDocument>))]
internal sealed partial class FleetJsonContext : JsonSerializerContext;
