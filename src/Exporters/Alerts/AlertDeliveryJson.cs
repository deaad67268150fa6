using System.Text;
using System.Text.Json;

namespace FlowCollector.Exporters.Alerts;

/// <summary>Deliveries as JSON, for /api/alerts and <c>flowcollector alerts --format jsonl</c>.</summary>
public static class AlertDeliveryJson
{
    public static string StateName(DeliveryState state) => state switch
    {
        DeliveryState.Sent => "sent",
        DeliveryState.Failed => "failed",
        _ => "pending",
    };

    public static void Write(Utf8JsonWriter writer, AlertDelivery delivery)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(delivery);
        writer.WriteStartObject();
        writer.WriteString("id", delivery.Id);
        writer.WriteNumber("incidentId", delivery.IncidentId);
        writer.WriteString("channel", delivery.Channel);
        writer.WriteString("event", AlertEventNames.Name(delivery.Event));
        writer.WriteString("state", StateName(delivery.State));
        writer.WriteNumber("attempts", delivery.Attempts);
        WriteNullable(writer, "lastError", delivery.LastError);
        WriteNullable(writer, "answer", delivery.Answer);
        writer.WriteString("createdAt", delivery.CreatedAt.UtcDateTime);
        if (delivery.State == DeliveryState.Pending)
        {
            writer.WriteString("nextAttemptAt", delivery.NextAttemptAt.UtcDateTime);
        }
        else
        {
            writer.WriteNull("nextAttemptAt");
        }

        if (delivery.SentAt is { } sent)
        {
            writer.WriteString("sentAt", sent.UtcDateTime);
        }
        else
        {
            writer.WriteNull("sentAt");
        }

        writer.WriteEndObject();
    }

    /// <summary>One delivery as a single line of JSON.</summary>
    public static string Line(AlertDelivery delivery)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, delivery);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
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
}
