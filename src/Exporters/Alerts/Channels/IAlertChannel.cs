namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>How one attempt to deliver ended.</summary>
public enum DeliveryOutcome
{
    /// <summary>The service acknowledged it.</summary>
    Sent,

    /// <summary>It may work later (timeout, 5xx, 429, unreachable): retried with back-off.</summary>
    Retry,

    /// <summary>It never will as it stands (the service refused it: 4xx): not retried.</summary>
    Failed,

    /// <summary>The channel has nothing to say about this event (e.g. PagerDuty on a test of another channel).</summary>
    Skipped,
}

/// <summary>What a channel's service answered, in words an operator can act on; <see cref="RetryAfter"/> when it said when to come back.</summary>
public readonly record struct DeliveryAnswer(DeliveryOutcome Outcome, string Detail, TimeSpan? RetryAfter = null);

/// <summary>At most <see cref="Requests"/> sends per <see cref="Period"/>; zero requests: no limit.</summary>
public readonly record struct RateLimit(int Requests, TimeSpan Period)
{
    public static RateLimit None => default;

    public bool Limits => Requests > 0 && Period > TimeSpan.Zero;
}

/// <summary>
/// One place alerts go: renders an event document in the service's own form and sends it, once. Retries, rate
/// limits and ordering are the dispatcher's; a channel never throws for what the service or the network did.
/// </summary>
public interface IAlertChannel
{
    string Name { get; }

    /// <summary>slack, discord, pagerduty, teams, telegram, alertmanager, webhook or script.</summary>
    string Type { get; }

    /// <summary>The service's own limit, or the configured one.</summary>
    RateLimit Limit { get; }

    /// <summary>How often a firing alert must be said again for the service to keep it (Alertmanager); null: never.</summary>
    TimeSpan? Repeat { get; }

    Task<DeliveryAnswer> SendAsync(AlertMessage message, CancellationToken cancellation);
}
