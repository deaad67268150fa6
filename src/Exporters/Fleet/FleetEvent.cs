using System.Text.Json;
using FlowCollector.Exporters.Alerts;

namespace FlowCollector.Exporters.Fleet;

/// <summary>One action of an event, as stored: its id, and its document as the node wrote it.</summary>
public sealed record FleetAction(long Id, string State, string Document);

/// <summary>
/// An incident event as the fleet stores it: the columns it is filtered by, read from the alert event document a
/// node published, and the incident's document as the node wrote it.
/// </summary>
public sealed record FleetEvent(
    string EventId,
    string Kind,
    DateTimeOffset At,
    string Node,
    long IncidentId,
    string KeyKind,
    string? Interface,
    string? Address,
    string AttackType,
    string Severity,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    DateTimeOffset UpdatedAt,
    double PeakPps,
    double PeakBps,
    string Incident,
    IReadOnlyList<FleetAction> Actions)
{
    /// <summary>Reads an event document; false, with the reason, for one that is not JSON or lacks what is stored.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, string subjectNode, out FleetEvent? parsed, out string error)
    {
        parsed = null;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            var incident = root.TryGetProperty("incident", out var value) && value.ValueKind == JsonValueKind.Object ? value : default;
            var node = AlertMessage.Text(root, "node");
            if (incident.ValueKind != JsonValueKind.Object || node is null || AlertMessage.Text(root, "event") is not { } kind || AlertMessage.Text(root, "id") is not { } id)
            {
                error = "not an incident event document (event, id, node and incident are required)";
                return false;
            }

            if (node != subjectNode)
            {
                // A node publishes only on its own subject: a document naming another node is refused, not filed under it.
                error = $"the document names node '{node}' but came on the subject of '{subjectNode}'";
                return false;
            }

            if (!incident.TryGetProperty("id", out var incidentId) || !incidentId.TryGetInt64(out var number) || number <= 0
                || AlertMessage.Time(incident, "openedAt") is not { } opened || AlertMessage.Time(incident, "updatedAt") is not { } updated)
            {
                error = "the incident has no id, openedAt or updatedAt";
                return false;
            }

            var actions = new List<FleetAction>();
            if (root.TryGetProperty("actions", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var action in list.EnumerateArray())
                {
                    if (action.TryGetProperty("id", out var actionId) && actionId.TryGetInt64(out var actionNumber))
                    {
                        actions.Add(new FleetAction(actionNumber, AlertMessage.Text(action, "state") ?? "unknown", action.GetRawText()));
                    }
                }
            }

            parsed = new FleetEvent(
                id,
                kind,
                AlertMessage.Time(root, "at") ?? updated,
                node,
                number,
                AlertMessage.Text(incident, "keyKind") ?? "node",
                AlertMessage.Text(incident, "interface"),
                AlertMessage.Text(incident, "address"),
                AlertMessage.Text(incident, "attackType") ?? "unknown",
                AlertMessage.Text(incident, "severity") ?? "low",
                opened,
                AlertMessage.Time(incident, "closedAt"),
                updated,
                AlertMessage.Number(incident, "peakPps"),
                AlertMessage.Number(incident, "peakBps"),
                incident.GetRawText(),
                actions);
            error = string.Empty;
            return true;
        }
        catch (JsonException exception)
        {
            error = $"not JSON ({exception.Message})";
            return false;
        }
    }
}
