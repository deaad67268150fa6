using System.Globalization;
using System.Text.Json;
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
    public void Write(Utf8JsonWriter writer, IReadOnlyList<string> reasons)
    {
        var store = storage.Store;
        var detector = detection.Detector;
        writer.WriteStartObject();
        writer.WriteString("status", reasons.Count == 0 ? "ok" : "degraded");
        writer.WriteStartArray("reasons");
        foreach (var reason in reasons)
        {
            writer.WriteStringValue(reason);
        }

        writer.WriteEndArray();
        writer.WriteString("node", core.Node);
        writer.WriteString("dataDirectory", core.DataDirectory);
        writer.WriteNumber("uptimeSeconds", Math.Round((time.GetUtcNow() - core.Started).TotalSeconds, 1));
        writer.WriteNumber("lastSecond", pipeline.LastSecond);
        writer.WriteNumber("tickLagSeconds", Math.Round(pipeline.LagSeconds, 1));
        writer.WriteStartObject("listeners");
        foreach (var source in sources.Sources.Where(source => source.Kind == SourceKind.Listener))
        {
            writer.WriteNumber(source.Name, source.UdpPort);
        }

        writer.WriteEndObject();
        writer.WriteBoolean("procNetDev", sources.Polled.Count > 0);
        writer.WriteStartArray("captures");
        foreach (var capture in sources.Sources.OfType<LiveCapture>())
        {
            writer.WriteStringValue(capture.Interface);
        }

        writer.WriteEndArray();
        writer.WriteNumber("exporters", core.Decoder.Exporters.Count);
        writer.WriteString("database", core.DatabasePath);
        writer.WriteStartObject("store");
        writer.WriteString("status", store is null ? "closed" : store.Failing ? "failing" : "ok");
        if (store?.LastError is { } storeError)
        {
            writer.WriteString("error", storeError);
        }

        writer.WriteNumber("heldRows", store?.HeldRows ?? 0);
        writer.WriteNumber("failedBatches", store?.Failed ?? 0);
        writer.WriteNumber("skippedRows", store?.SkippedRows ?? 0);
        writer.WriteEndObject();
        writer.WriteString("mitigation", mitigation.Worker?.Engine.Mode switch { MitigationMode.On => "on", MitigationMode.DryRun => "dry-run", _ => "off" });
        writer.WriteString("exabgp", mitigation.ExaBgp is null ? "off" : mitigation.ExaBgp.IsConnected ? "connected" : "disconnected");
        writer.WriteNumber("openIncidents", detector?.OpenIncidents.Count ?? 0);
        writer.WriteNumber("detectionKeys", detector?.KeyCount ?? 0);
        writer.WriteEndObject();
    }
}
