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
        JsonSerializer.Serialize(writer, IncidentDocument.From(incident), StoreJsonContext.Default.IncidentDocument);
    }

    /// <summary>One incident as a single line of JSON.</summary>
    public static string Line(IncidentRecord incident) => JsonSerializer.Serialize(IncidentDocument.From(incident), StoreJsonContext.Default.IncidentDocument);

    public static string Ports(IReadOnlyList<PortRate> ports) => JsonSerializer.Serialize(ports, StoreJsonContext.Default.IReadOnlyListPortRate);

    public static string Sources(IReadOnlyList<SourceRate> sources) => JsonSerializer.Serialize(sources, StoreJsonContext.Default.IReadOnlyListSourceRate);

    /// <summary>A port list as stored; entries without a protocol (a damaged row) are left out.</summary>
    public static IReadOnlyList<PortRate> ParsePorts(string text) =>
        string.IsNullOrEmpty(text) ? [] : [.. (JsonSerializer.Deserialize(text, StoreJsonContext.Default.PortRateArray) ?? []).Where(p => p is { Protocol: not null })];

    /// <summary>A source list as stored; entries without an address are left out.</summary>
    public static IReadOnlyList<SourceRate> ParseSources(string text) =>
        string.IsNullOrEmpty(text) ? [] : [.. (JsonSerializer.Deserialize(text, StoreJsonContext.Default.SourceRateArray) ?? []).Where(s => s is { Address: not null })];

    /// <summary>A baseline's values as stored: a JSON array of the metrics in order.</summary>
    internal static string Values(in MetricValues values)
    {
        var array = new double[MetricValues.Count];
        for (var i = 0; i < array.Length; i++)
        {
            array[i] = values[i];
        }

        return JsonSerializer.Serialize(array, StoreJsonContext.Default.DoubleArray);
    }

    /// <summary>Stored values back; a value that is missing or not finite reads as 0.</summary>
    internal static MetricValues ParseValues(string text)
    {
        var values = default(MetricValues);
        var array = JsonSerializer.Deserialize(text, StoreJsonContext.Default.DoubleArray) ?? [];
        for (var i = 0; i < Math.Min(array.Length, MetricValues.Count); i++)
        {
            values[i] = double.IsFinite(array[i]) ? array[i] : 0;
        }

        return values;
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
    string? CloseReason)
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
            incident.CloseReason is { } reason ? CloseReasons.Name(reason) : null);
    }
}

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

// Named floating-point literals: a value that is not finite is written as "NaN" rather than failing the write.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(IncidentDocument))]
[JsonSerializable(typeof(MitigationDocument))]
[JsonSerializable(typeof(IReadOnlyList<PortRate>))]
[JsonSerializable(typeof(IReadOnlyList<SourceRate>))]
[JsonSerializable(typeof(PortRate[]))]
[JsonSerializable(typeof(SourceRate[]))]
[JsonSerializable(typeof(double[]))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
