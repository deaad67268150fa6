using FlowCollector.Detection;
using Microsoft.Extensions.Options;

namespace FlowCollector.Exporters.Fleet;

/// <summary>
/// The fleet (<c>Fleet</c> in the configuration): with <c>Nats:Url</c> set, a node publishes its incident events and
/// per-second summaries to NATS JetStream; <c>flowcollector fleet</c> consumes them into PostgreSQL and detects on
/// the sums. A single node needs none of it.
/// </summary>
public sealed class FleetOptions
{
    public NatsOptions Nats { get; set; } = new();

    public PostgresOptions Postgres { get; set; } = new();

    /// <summary>Destinations and prefixes a node publishes each second at most, heaviest first; what is cut is counted.</summary>
    [Within(1, 100_000)]
    public int MaxSummaryKeys { get; set; } = 1000;

    /// <summary>Messages a node keeps while NATS is unreachable: summaries (a second's worth each part) and events.</summary>
    [Within(1, 1_000_000)]
    public int BufferMessages { get; set; } = 10_000;

    /// <summary>Summaries older than this are not sent once NATS is back: the fleet has judged their second already.</summary>
    [Within(1, 3600)]
    public int SummaryMaxAgeSeconds { get; set; } = 30;

    /// <summary>How long the fleet waits for a late node before it judges a second's sums.</summary>
    [Within(0, 30)]
    public int LateSeconds { get; set; } = 2;

    /// <summary>How long JetStream keeps incident events (a fleet service down this long loses none).</summary>
    [Within(1, 8760)]
    public int EventRetentionHours { get; set; } = 168;

    public bool Publishes => Nats.Url.Length > 0;

    public IReadOnlyList<string> Validate(bool fleetService)
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new FleetOptionsValidator().Validate(null, this));
        if (Nats.Url.Length > 0 && !Uri.TryCreate(Nats.Url.Split(',')[0], UriKind.Absolute, out var uri) | uri?.Scheme is not ("nats" or "tls" or "ws" or "wss"))
        {
            errors.Add($"Nats:Url: '{Nats.DisplayUrl}' is not a NATS URL (e.g. nats://127.0.0.1:4222)");
        }

        if (!FleetSubjects.IsToken(Nats.Subject))
        {
            errors.Add($"Nats:Subject: '{Nats.Subject}' must be one subject token (letters, digits, - and _)");
        }

        if (fleetService && Nats.Url.Length == 0)
        {
            errors.Add("Nats:Url: the fleet service consumes what nodes publish, and no NATS server is named (e.g. nats://127.0.0.1:4222)");
        }

        if (fleetService && Postgres.ConnectionString.Length == 0)
        {
            errors.Add("Postgres:ConnectionString: the fleet service stores every node's incidents in PostgreSQL, and none is named (e.g. Host=127.0.0.1;Database=flowcollector;Username=flowcollector)");
        }

        return errors;
    }
}

public sealed class NatsOptions
{
    /// <summary>nats://HOST:PORT (comma-separated for a cluster); empty: this node does not publish.</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>The first token of every subject: SUBJECT.events.NODE and SUBJECT.summaries.NODE.</summary>
    public string Subject { get; set; } = "flowcollector";

    /// <summary>A credentials file (NATS decentralised auth), if the server asks for one.</summary>
    public string CredentialsFile { get; set; } = string.Empty;

    /// <summary>The URL as logs show it: without a password it may carry.</summary>
    public string DisplayUrl => string.Join(",", Url.Split(',').Select(part => Uri.TryCreate(part, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0 ? part.Replace(uri.UserInfo + "@", string.Empty, StringComparison.Ordinal) : part));

    /// <summary>Whether this side proves who it is to NATS: a credentials file, or a user in the URL.</summary>
    public bool Authenticates => CredentialsFile.Length > 0 || (Uri.TryCreate(Url.Split(',')[0], UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0);
}

public sealed class PostgresOptions
{
    /// <summary>Npgsql's connection string for the fleet's store; the password may instead come from PGPASSWORD or ~/.pgpass.</summary>
    public string ConnectionString { get; set; } = string.Empty;
}

[OptionsValidator]
internal sealed partial class FleetOptionsValidator : IValidateOptions<FleetOptions>;
