using System.Text.Json;
using System.Text.Json.Serialization;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Exporters.Storage;

/// <summary>
/// Incidents as JSON, through System.Text.Json's source generation (no reflection, so it works under Native AOT):
/// the same object for /api/incidents, <c>flowcollector incidents --format jsonl</c>, and the store's JSON columns.
/// The enums are named here, at the edge.
/// </summary>
public static class IncidentJson
{
    public static void Write(Utf8JsonWriter writer, IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(writer);
        JsonSerializer.Serialize(writer, IncidentDocument.From(incident), DocumentJsonContext.Default.IncidentDocument);
    }

    /// <summary>One incident as a single line of JSON.</summary>
    public static string Line(IncidentRecord incident) => JsonSerializer.Serialize(IncidentDocument.From(incident), DocumentJsonContext.Default.IncidentDocument);

    public static string Ports(IReadOnlyList<PortRate> ports) => JsonSerializer.Serialize(ports, DocumentJsonContext.Default.IReadOnlyListPortRate);

    public static string Sources(IReadOnlyList<SourceRate> sources) => JsonSerializer.Serialize(sources, DocumentJsonContext.Default.IReadOnlyListSourceRate);

    public static string Victims(IReadOnlyList<VictimRate> victims) => JsonSerializer.Serialize(victims, DocumentJsonContext.Default.IReadOnlyListVictimRate);

    /// <summary>A victim list as stored; entries without an address and rate are left out.</summary>
    public static IReadOnlyList<VictimRate> ParseVictims(string text)
    {
        var result = new List<VictimRate>();
        foreach (var element in Elements(text))
        {
            if (element.TryGetProperty("address", out var address) && element.TryGetProperty("pps", out var pps))
            {
                result.Add(new VictimRate(address.GetString() ?? string.Empty, pps.GetDouble()));
            }
        }

        return result;
    }

    /// <summary>A port list as stored; entries without a protocol, port and rate (a damaged row) are left out.</summary>
    public static IReadOnlyList<PortRate> ParsePorts(string text)
    {
        var result = new List<PortRate>();
        foreach (var element in Elements(text))
        {
            if (element.TryGetProperty("protocol", out var protocol) && element.TryGetProperty("port", out var port) && element.TryGetProperty("pps", out var pps))
            {
                result.Add(new PortRate(protocol.GetString() ?? string.Empty, port.GetInt32(), pps.GetDouble()));
            }
        }

        return result;
    }

    /// <summary>A source list as stored; entries without an address and rate are left out.</summary>
    public static IReadOnlyList<SourceRate> ParseSources(string text)
    {
        var result = new List<SourceRate>();
        foreach (var element in Elements(text))
        {
            if (element.TryGetProperty("address", out var address) && element.TryGetProperty("pps", out var pps))
            {
                result.Add(new SourceRate(address.GetString() ?? string.Empty, pps.GetDouble()));
            }
        }

        return result;
    }

    /// <summary>A baseline's values as stored: a JSON array of the metrics in order.</summary>
    internal static string Values(in MetricValues values)
    {
        var array = new double[MetricValues.Count];
        for (var i = 0; i < array.Length; i++)
        {
            // A value that is not finite has no JSON number; it reads back as 0 either way.
            array[i] = double.IsFinite(values[i]) ? values[i] : 0;
        }

        return JsonSerializer.Serialize(array, DocumentJsonContext.Default.DoubleArray);
    }

    /// <summary>Stored values back; a value that is missing or not finite reads as 0.</summary>
    internal static MetricValues ParseValues(string text)
    {
        var values = default(MetricValues);
        var i = 0;
        foreach (var element in Elements(text))
        {
            if (i < MetricValues.Count && element.TryGetDouble(out var value) && double.IsFinite(value))
            {
                values[i] = value;
            }

            i++;
        }

        return values;
    }

    /// <summary>
    /// The elements of a stored JSON array. Read with the document reader, not generated deserialisers: the
    /// columns are small and few, and the deserialiser's machinery would cost the router-mode binary its share of
    /// resident memory for no gain.
    /// </summary>
    private static List<JsonElement> Elements(string text)
    {
        using var document = JsonDocument.Parse(string.IsNullOrEmpty(text) ? "[]" : text);
        return document.RootElement.ValueKind == JsonValueKind.Array ? [.. document.RootElement.EnumerateArray().Select(e => e.Clone())] : [];
    }
}

/// <summary>An incident's documented JSON keys, in their documented order.</summary>
internal sealed record IncidentDocument(
    long Id,
    string KeyKind,
    string Node,
    string? Source,
    string? Exporter,
    string? Interface,
    string? Direction,
    string? Address,
    string AttackType,
    string? Vector,
    IReadOnlyList<string> Vectors,
    double Confidence,
    string Severity,
    DateTime OpenedAt,
    DateTime? ClosedAt,
    DateTime UpdatedAt,
    long FirstSecond,
    double PeakPps,
    double PeakBps,
    double CurrentPps,
    double CurrentBps,
    double CapacityBps,
    double Threshold,
    string ThresholdMetric,
    IReadOnlyList<PortRate> TopSourcePorts,
    IReadOnlyList<SourceRate> TopSources,
    int Reopened,
    string? CloseReason,
    IReadOnlyList<VictimRate> Victims,
    PcapDocument? Pcap,
    IReadOnlyList<string> Nodes)
{
    public static IncidentDocument From(IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(incident);
        return new IncidentDocument(
            incident.Id,
            TrafficKey.KindName(incident.KeyKind),
            incident.Node,
            incident.Source,
            incident.Exporter,
            incident.Interface,
            incident.Direction,
            incident.Address,
            AttackNames.Name(incident.AttackType),
            incident.Vector is { } vector ? AttackNames.Name(vector) : null,
            [.. incident.Vectors.Select(AttackNames.Name)],
            incident.Confidence,
            AttackNames.Name(incident.Severity),
            incident.OpenedAt.UtcDateTime,
            incident.ClosedAt?.UtcDateTime,
            incident.UpdatedAt.UtcDateTime,
            incident.FirstSecond,
            incident.PeakPps,
            incident.PeakBps,
            incident.CurrentPps,
            incident.CurrentBps,
            incident.CapacityBps,
            incident.Threshold,
            MetricValues.Name(incident.ThresholdMetric),
            incident.TopSourcePorts,
            incident.TopSources,
            incident.Reopened,
            incident.CloseReason is { } reason ? CloseReasons.Name(reason) : null,
            incident.Victims,
            incident.Pcap is { } pcap ? new PcapDocument(pcap.Path, pcap.Packets, pcap.Bytes, pcap.FirstAt?.UtcDateTime, pcap.LastAt?.UtcDateTime, pcap.Note) : null,
            incident.Nodes);
    }
}

/// <summary>An incident's capture file as the API names it; <c>path</c> is null, and <c>note</c> says why, when there is none.</summary>
internal sealed record PcapDocument(string? Path, long Packets, long Bytes, DateTime? FirstAt, DateTime? LastAt, string? Note);

/// <summary>An action's documented JSON keys, in their documented order.</summary>
internal sealed record MitigationDocument(
    long Id,
    long IncidentId,
    string Kind,
    string Rule,
    string Command,
    DateTime? AppliedAt,
    DateTime? WithdrawnAt,
    long? Dropped,
    string State,
    bool DryRun,
    int Attempts,
    string? Error)
{
    public static MitigationDocument From(MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return new MitigationDocument(
            action.Id,
            action.IncidentId,
            ActionNames.Name(action.Kind),
            action.Rule,
            action.Command,
            action.AppliedAt?.UtcDateTime,
            action.WithdrawnAt?.UtcDateTime,
            action.Dropped,
            ActionNames.Name(action.State),
            action.DryRun,
            action.Attempts,
            action.Error);
    }
}

// Writing goes through the generated serializers' fast path, which writes each object straight to the
// Utf8JsonWriter: the converters and metadata of the general path are never set up, so a collector that only saves
// baselines and answers /healthz keeps System.Text.Json's footprint small.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(IncidentDocument))]
[JsonSerializable(typeof(MitigationDocument))]
[JsonSerializable(typeof(IReadOnlyList<PortRate>))]
[JsonSerializable(typeof(IReadOnlyList<SourceRate>))]
[JsonSerializable(typeof(IReadOnlyList<VictimRate>))]
[JsonSerializable(typeof(double[]))]
internal sealed partial class DocumentJsonContext : JsonSerializerContext;
