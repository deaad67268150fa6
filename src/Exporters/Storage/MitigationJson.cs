using FlowCollector.Exporters.Mitigation;
using System.Text.Json;

namespace FlowCollector.Exporters.Storage;

/// <summary>Actions as JSON, for /api/mitigations and <c>flowcollector mitigations --format jsonl</c>.</summary>
public static class MitigationJson
{
    public static void Write(Utf8JsonWriter writer, MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(action);
        writer.WriteStartObject();
        writer.WriteNumber("id", action.Id);
        writer.WriteNumber("incidentId", action.IncidentId);
        writer.WriteString("kind", ActionNames.Name(action.Kind));
        writer.WriteString("rule", action.Rule);
        writer.WriteString("command", action.Command);
        Time(writer, "appliedAt", action.AppliedAt);
        Time(writer, "withdrawnAt", action.WithdrawnAt);
        if (action.Dropped is { } dropped)
        {
            writer.WriteNumber("dropped", dropped);
        }
        else
        {
            writer.WriteNull("dropped");
        }

        writer.WriteString("state", ActionNames.Name(action.State));
        writer.WriteBoolean("dryRun", action.DryRun);
        writer.WriteNumber("attempts", action.Attempts);
        IncidentJson.WriteNullable(writer, "error", action.Error);

        writer.WriteEndObject();
    }

    public static string Line(MitigationAction action)
    {
        return IncidentJson.Text(writer => Write(writer, action));
    }

    private static void Time(Utf8JsonWriter writer, string name, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            writer.WriteString(name, time.UtcDateTime);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
