using FlowCollector.Detection;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>Where an action takes effect: a local drop rule (nftables or iptables) or a BGP announcement.</summary>
public enum ActionKind
{
    Nftables,
    Iptables,
    FlowSpec,
    Rtbh,
}

/// <summary>Where an action stands.</summary>
public enum ActionState
{
    /// <summary>Recorded, not (yet) in force: its apply is being tried.</summary>
    Pending,

    Applied,

    /// <summary>Every attempt to apply it failed.</summary>
    Failed,

    Withdrawn,

    /// <summary>Planned in a dry run: recorded, never applied.</summary>
    DryRun,
}

/// <summary>The names kinds and states have at the edges: configuration, database rows, JSON, logs.</summary>
public static class ActionNames
{
    public static string Name(ActionKind kind) => kind switch
    {
        ActionKind.Nftables => "nftables",
        ActionKind.Iptables => "iptables",
        ActionKind.FlowSpec => "flowspec",
        _ => "rtbh",
    };

    public static string Name(ActionState state) => state switch
    {
        ActionState.Pending => "pending",
        ActionState.Applied => "applied",
        ActionState.Failed => "failed",
        ActionState.Withdrawn => "withdrawn",
        _ => "dry-run",
    };

    public static bool TryParse(string? text, out ActionKind kind) => EnumNames.TryParse(text, Name, out kind);

    public static bool TryParse(string? text, out ActionState state) => EnumNames.TryParse(text, Name, out state);

    /// <summary>A drop rule on this machine rather than a route announced to the routers.</summary>
    public static bool IsLocal(this ActionKind kind) => kind is ActionKind.Nftables or ActionKind.Iptables;
}
