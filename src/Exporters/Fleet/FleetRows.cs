namespace FlowCollector.Exporters.Fleet;

// The parameter and row shapes of the fleet store's queries: top-level, so that Dapper.AOT's generated code can reach them.

internal sealed class LockRow
{
    public long Key { get; init; }
}

internal sealed class VersionRow
{
    public int Version { get; init; }
}

internal sealed class EventRow
{
    public required string EventId { get; init; }

    public required string Node { get; init; }

    public long IncidentId { get; init; }

    public required string Kind { get; init; }

    public DateTime At { get; init; }
}

internal sealed class IncidentRow
{
    public required string Node { get; init; }

    public long Id { get; init; }

    public required string KeyKind { get; init; }

    public string? Interface { get; init; }

    public string? Address { get; init; }

    public required string AttackType { get; init; }

    public required string Severity { get; init; }

    public DateTime OpenedAt { get; init; }

    public DateTime? ClosedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public double PeakPps { get; init; }

    public double PeakBps { get; init; }

    public required string Document { get; init; }

    public static IncidentRow From(FleetEvent change) => new()
    {
        Node = change.Node,
        Id = change.IncidentId,
        KeyKind = change.KeyKind,
        Interface = change.Interface,
        Address = change.Address,
        AttackType = change.AttackType,
        Severity = change.Severity,
        OpenedAt = change.OpenedAt.UtcDateTime,
        ClosedAt = change.ClosedAt?.UtcDateTime,
        UpdatedAt = change.UpdatedAt.UtcDateTime,
        PeakPps = change.PeakPps,
        PeakBps = change.PeakBps,
        Document = change.Incident,
    };
}

internal sealed class ActionRow
{
    public required string Node { get; init; }

    public long Id { get; init; }

    public long IncidentId { get; init; }

    public required string State { get; init; }

    public DateTime EventAt { get; init; }

    public required string Document { get; init; }
}

internal sealed class NodeRow
{
    public required string Node { get; init; }

    public string? Version { get; init; }

    public DateTime At { get; init; }
}

internal sealed class FilterRow
{
    public string? Node { get; init; }

    public string? Interface { get; init; }

    public string? Type { get; init; }

    public string? Severity { get; init; }

    public bool? Open { get; init; }

    public DateTime? Since { get; init; }

    public DateTime? Until { get; init; }

    public int Limit { get; init; }
}

internal sealed class DocumentRow
{
    public string Document { get; init; } = string.Empty;

    /// <summary>The incident's actions, a JSON array.</summary>
    public string Actions { get; init; } = "[]";
}

internal sealed class NodeOnlyRow
{
    public required string Node { get; init; }
}

internal sealed class OpenRow
{
    public string Node { get; init; } = string.Empty;

    public long Id { get; init; }

    public string KeyKind { get; init; } = string.Empty;

    public string? Address { get; init; }
}

internal sealed class NodeListRow
{
    public string Node { get; init; } = string.Empty;

    public string? Version { get; init; }

    public DateTime FirstSeen { get; init; }

    public DateTime LastSeen { get; init; }

    public long OpenIncidents { get; init; }
}
