using System.Text;
using System.Text.Json;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Exporters.Storage;

/// <summary>
/// Incidents as JSON, written by hand with <see cref="Utf8JsonWriter"/> (no reflection, so it works under Native AOT):
/// the same object for /api/incidents, <c>flowcollector incidents --format jsonl</c>, and the store's columns.
/// </summary>
public static class IncidentJson
{
    public static void Write(Utf8JsonWriter writer, IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(incident);
        writer.WriteStartObject();
        writer.WriteNumber("id", incident.Id);
        writer.WriteString("keyKind", TrafficKey.KindName(incident.KeyKind));
        writer.WriteString("node", incident.Node);
        WriteNullable(writer, "source", incident.Source);
        WriteNullable(writer, "exporter", incident.Exporter);
        WriteNullable(writer, "interface", incident.Interface);
        WriteNullable(writer, "direction", incident.Direction);
        WriteNullable(writer, "address", incident.Address);
        writer.WriteString("attackType", AttackNames.Name(incident.AttackType));
        WriteNullable(writer, "vector", incident.Vector is { } vector ? AttackNames.Name(vector) : null);
        writer.WriteNumber("confidence", incident.Confidence);
        writer.WriteString("severity", AttackNames.Name(incident.Severity));
        writer.WriteString("openedAt", incident.OpenedAt.UtcDateTime);
        if (incident.ClosedAt is { } closed)
        {
            writer.WriteString("closedAt", closed.UtcDateTime);
        }
        else
        {
            writer.WriteNull("closedAt");
        }

        writer.WriteString("updatedAt", incident.UpdatedAt.UtcDateTime);
        writer.WriteNumber("firstSecond", incident.FirstSecond);
        writer.WriteNumber("peakPps", incident.PeakPps);
        writer.WriteNumber("peakBps", incident.PeakBps);
        writer.WriteNumber("currentPps", incident.CurrentPps);
        writer.WriteNumber("currentBps", incident.CurrentBps);
        writer.WriteNumber("capacityBps", incident.CapacityBps);
        writer.WriteNumber("threshold", incident.Threshold);
        writer.WriteString("thresholdMetric", MetricValues.Name(incident.ThresholdMetric));
        writer.WritePropertyName("topSourcePorts");
        WritePorts(writer, incident.TopSourcePorts);
        writer.WritePropertyName("topSources");
        WriteSources(writer, incident.TopSources);
        writer.WriteNumber("reopened", incident.Reopened);
        WriteNullable(writer, "closeReason", incident.CloseReason is { } reason ? CloseReasons.Name(reason) : null);
        writer.WriteEndObject();
    }

    /// <summary>One incident as a single line of JSON.</summary>
    public static string Line(IncidentRecord incident)
    {
        return Text(writer => Write(writer, incident));
    }

    public static string Ports(IReadOnlyList<PortRate> ports) => Text(writer => WritePorts(writer, ports));

    public static string Sources(IReadOnlyList<SourceRate> sources) => Text(writer => WriteSources(writer, sources));

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

    private static List<JsonElement> Elements(string text)
    {
        using var document = JsonDocument.Parse(string.IsNullOrEmpty(text) ? "[]" : text);
        return document.RootElement.ValueKind == JsonValueKind.Array ? document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList() : [];
    }

    private static void WritePorts(Utf8JsonWriter writer, IReadOnlyList<PortRate> ports)
    {
        writer.WriteStartArray();
        foreach (var port in ports)
        {
            writer.WriteStartObject();
            writer.WriteString("protocol", port.Protocol);
            writer.WriteNumber("port", port.Port);
            writer.WriteNumber("pps", port.Pps);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteSources(Utf8JsonWriter writer, IReadOnlyList<SourceRate> sources)
    {
        writer.WriteStartArray();
        foreach (var source in sources)
        {
            writer.WriteStartObject();
            writer.WriteString("address", source.Address);
            writer.WriteNumber("pps", source.Pps);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    internal static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    /// <summary>What <paramref name="write"/> writes, as a string (one line).</summary>
    internal static string Text(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
