using System.Globalization;
using System.Text.Json.Serialization;
using FlowCollector.Collector.Incidents;
using FlowCollector.Collector.Mitigation;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Sources;
using FlowCollector.Collector.Storage;
using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Collector.Hosting;

/// <summary>Whether the collector does its job fully now, and /healthz's document saying so.</summary>
internal sealed class CollectorHealth(CollectorCore core, SecondPipeline pipeline, SourcesService sources, StorageService storage, DetectionService detection, MitigationService mitigation, TimeProvider time)
{
    /// <summary>Seconds behind the clock beyond which detection counts as lagging: the tick closes each second within one.</summary>
    private const double LaggingSeconds = 3;

    /// <summary>Why the collector is not doing its job fully now; empty when it is.</summary>
    public IReadOnlyList<string> Degradations()
    {
        var reasons = new List<string>();
        var lag = pipeline.LagSeconds;
        if (lag > LaggingSeconds)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"detection is {lag:F0} s behind: the one-second tick lags"));
        }

        if (storage.Store is { Failing: true } store)
        {
            reasons.Add($"the database fails ({store.HeldRows} rows held for a retry): {store.LastError}");
        }

        if (mitigation.Worker?.Engine is { NeedsExaBgp: true })
        {
            if (mitigation.ExaBgp is null)
            {
                reasons.Add("announcements are owed a withdrawal, and Mitigation:ExaBgp:Socket is not set to reach ExaBGP");
            }
            else if (!mitigation.ExaBgp.IsConnected)
            {
                reasons.Add("mitigation needs ExaBGP, and its relay is not connected to " + core.Options.Mitigation.ExaBgp.Socket);
            }
        }

        return reasons;
    }

    /// <summary>/healthz: status ok (answered 200), or degraded (503) with the reasons.</summary>
    public HealthDocument Document(IReadOnlyList<string> reasons)
    {
        var store = storage.Store;
        var detector = detection.Detector;
        var listeners = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var source in sources.Sources.Where(source => source.Kind == SourceKind.Listener))
        {
            listeners[source.Name] = source.UdpPort;
        }

        return new HealthDocument(
            reasons.Count == 0 ? "ok" : "degraded",
            reasons,
            BuildVersion.Text,
            core.Node,
            core.DataDirectory,
            Math.Round((time.GetUtcNow() - core.Started).TotalSeconds, 1),
            pipeline.LastSecond,
            Math.Round(pipeline.LagSeconds, 1),
            listeners,
            sources.Polled.Count > 0,
            [.. sources.Sources.OfType<LiveCapture>().Select(capture => capture.Interface)],
            core.Decoder.Exporters.Count,
            core.DatabasePath,
            new StoreHealth(store is null ? "closed" : store.Failing ? "failing" : "ok", store?.LastError, store?.HeldRows ?? 0, store?.Failed ?? 0, store?.SkippedRows ?? 0),
            mitigation.Worker?.Engine.Mode switch { MitigationMode.On => "on", MitigationMode.DryRun => "dry-run", _ => "off" },
            mitigation.ExaBgp is null ? "off" : mitigation.ExaBgp.IsConnected ? "connected" : "disconnected",
            detector?.OpenIncidents.Count ?? 0,
            detector?.KeyCount ?? 0);
    }
}

/// <summary>/healthz's documented keys, in their documented order.</summary>
internal sealed record HealthDocument(
    string Status,
    IReadOnlyList<string> Reasons,
    string Version,
    string Node,
    string DataDirectory,
    double UptimeSeconds,
    long LastSecond,
    double TickLagSeconds,
    IReadOnlyDictionary<string, int> Listeners,
    bool ProcNetDev,
    IReadOnlyList<string> Captures,
    int Exporters,
    string Database,
    StoreHealth Store,
    string Mitigation,
    [property: JsonPropertyName("exabgp")] string ExaBgp,
    int OpenIncidents,
    int DetectionKeys);

/// <summary>The store's part of /healthz; <c>error</c> only while there is one.</summary>
internal sealed record StoreHealth(
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    long HeldRows,
    long FailedBatches,
    long SkippedRows);
