using System.Text.Json;

namespace FlowCollector.Exporters.Storage;

/// <summary>Actions as JSON, for /api/mitigations and <c>flowcollector mitigations --format jsonl</c>.</summary>
public static class MitigationJson
{
    public static void Write(Utf8JsonWriter writer, MitigationAction action)
    {
        ArgumentNullException.ThrowIfNull(writer);
        JsonSerializer.Serialize(writer, MitigationDocument.From(action), DocumentJsonContext.Default.MitigationDocument);
    }

    /// <summary>One action as a single line of JSON.</summary>
    public static string Line(MitigationAction action) => JsonSerializer.Serialize(MitigationDocument.From(action), DocumentJsonContext.Default.MitigationDocument);
}
