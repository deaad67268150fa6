using System.Globalization;
using FlowCollector.Decoders;
using FlowCollector.Detection;
using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Options;

namespace FlowCollector.Exporters.Alerts;

/// <summary>
/// Who is told about incidents and how (<c>Alerts</c> in the configuration): the channels, which severities each
/// hears, and how long a delivery is retried.
/// </summary>
public sealed class AlertOptions
{
    // Each channel is validated on its own, so that messages carry its index as configuration keys do (Channels:0:Url).
#pragma warning disable SYSLIB1213
    public List<AlertChannelOptions> Channels { get; set; } = [];
#pragma warning restore SYSLIB1213

    /// <summary>Channel names per severity; a severity left out is heard by every channel.</summary>
    public AlertRoutes Routes { get; set; } = new();

    /// <summary>Routes for incidents inside a prefix or on an interface: the most specific match wins (an interface before any prefix).</summary>
    public List<AlertRouteOverride> Overrides { get; set; } = [];

    /// <summary>The collector's address as operators reach it (e.g. https://collector.example.net:9750): events then link to the incident.</summary>
    public string BaseUrl { get; set; } = string.Empty;

    /// <summary>A delivery is retried, with back-off, until it is this old; then it is marked failed.</summary>
    [Within(1, 10_080)]
    public int MaxAgeMinutes { get; set; } = 1440;

    /// <summary>The first retry waits about this long, each next one twice as long.</summary>
    [Within(0.05, 3600)]
    public double RetryBaseSeconds { get; set; } = 1;

    /// <summary>No retry waits longer than this.</summary>
    [Within(1, 86_400)]
    public int RetryMaxSeconds { get; set; } = 300;

    /// <summary>HTTP requests go through this proxy; empty: HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment.</summary>
    public string Proxy { get; set; } = string.Empty;

    /// <summary>Deliveries kept (sent or failed) are deleted after this many days; 0 keeps them.</summary>
    [Within(0, 36_500, MinimumMeans = "keep forever")]
    public int RetentionDays { get; set; } = 30;

    /// <summary>Every problem, each starting with its key (relative to <c>Alerts</c>).</summary>
    public List<string> Validate()
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new AlertOptionsValidator().Validate(null, this));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Channels.Count; i++)
        {
            var channel = Channels[i];
            channel.Validate($"Channels:{i}:", errors);
            if (channel.Name.Length > 0 && !names.Add(channel.Name))
            {
                errors.Add($"Channels:{i}:Name: '{channel.Name}' names two channels");
            }
        }

        Routes.Validate("Routes", names, errors);
        for (var i = 0; i < Overrides.Count; i++)
        {
            var entry = Overrides[i];
            if (entry.Prefix.Length == 0 && entry.Interface.Length == 0)
            {
                errors.Add($"Overrides:{i}: needs a Prefix or an Interface to apply to");
            }

            if (entry.Prefix.Length > 0 && !IpPrefix.TryParse(entry.Prefix, out _, out var error))
            {
                errors.Add($"Overrides:{i}:Prefix: {error}");
            }

            entry.Routes.Validate($"Overrides:{i}:Routes", names, errors);
        }

        if (BaseUrl.Length > 0 && !AlertChannelOptions.IsHttpUrl(BaseUrl))
        {
            errors.Add($"BaseUrl: '{BaseUrl}' is not an http or https URL");
        }

        if (Proxy.Length > 0 && !AlertChannelOptions.IsHttpUrl(Proxy))
        {
            errors.Add($"Proxy: '{Proxy}' is not an http or https URL");
        }

        return errors;
    }
}

/// <summary>
/// The channel names each severity is told; null (left out) is every channel. Nullable because the configuration
/// binder appends to a list that already holds values instead of replacing it.
/// </summary>
public sealed class AlertRoutes
{
    public List<string>? Low { get; set; }

    public List<string>? Medium { get; set; }

    public List<string>? High { get; set; }

    public List<string>? Critical { get; set; }

    /// <summary>The names for a severity; null: every channel.</summary>
    public IReadOnlyList<string>? For(Severity severity) => severity switch
    {
        Severity.Critical => Critical,
        Severity.High => High,
        Severity.Medium => Medium,
        _ => Low,
    };

    internal void Validate(string key, HashSet<string> channels, List<string> errors)
    {
        foreach (var severity in Enum.GetValues<Severity>())
        {
            var names = For(severity) ?? [];
            foreach (var name in names.Where(n => !channels.Contains(n)))
            {
                errors.Add($"{key}:{severity}: '{name}' is not a channel (Alerts:Channels names {(channels.Count == 0 ? "none" : string.Join(", ", channels))})");
            }
        }
    }
}

public sealed class AlertRouteOverride
{
    /// <summary>Incidents whose address (destination or prefix) lies inside this prefix.</summary>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>Incidents on this interface, as incidents name it (e.g. <c>192.0.2.1/7</c> or <c>eth0</c>).</summary>
    public string Interface { get; set; } = string.Empty;

    public AlertRoutes Routes { get; set; } = new();
}

/// <summary>One channel: its type and what that type needs.</summary>
public sealed class AlertChannelOptions
{
    public static readonly string[] Types = ["slack", "discord", "pagerduty", "teams", "telegram", "alertmanager", "webhook", "script"];

    /// <summary>How routes and the API name the channel.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>slack, discord, pagerduty, teams, telegram, alertmanager, webhook or script.</summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>
    /// The endpoint: the webhook URL (Slack, Discord, Teams, webhook), Alertmanager's base URL, or the API's base URL
    /// where it has a default (PagerDuty: https://events.pagerduty.com, Telegram: https://api.telegram.org).
    /// </summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>The signing secret (webhook) or the bot token (Telegram). Never logged.</summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>A file holding <see cref="Secret"/> (or PagerDuty's routing key), read at start-up; trailing white space is ignored.</summary>
    public string SecretFile { get; set; } = string.Empty;

    /// <summary>PagerDuty's integration (routing) key.</summary>
    public string RoutingKey { get; set; } = string.Empty;

    /// <summary>Telegram's chat (a number, or @channelname).</summary>
    public string ChatId { get; set; } = string.Empty;

    /// <summary>The program a script channel runs, with the event JSON on its standard input.</summary>
    public string Command { get; set; } = string.Empty;

    public List<string> Arguments { get; set; } = [];

    /// <summary>A request (or a script) that takes longer has failed and is retried.</summary>
    [Within(1, 300)]
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>At most this many requests per <see cref="RatePerSeconds"/>; 0: the type's documented limit.</summary>
    [Within(0, 10_000)]
    public int RateRequests { get; set; }

    [Within(0, 3600)]
    public double RatePerSeconds { get; set; }

    /// <summary>Events this channel hears (opened, escalated, mitigated, resolved); empty: all.</summary>
    public List<string> Events { get; set; } = [];

    /// <summary>Resolved (and mitigated) only for incidents this channel was told opened; false: by severity, like opened.</summary>
    public bool ResolvedOnlyIfOpened { get; set; } = true;

    /// <summary>Alertmanager: a firing alert is sent again this often, or Alertmanager would resolve it by itself.</summary>
    [Within(5, 3600)]
    public int RepeatSeconds { get; set; } = 60;

    /// <summary>The configured pace, or <paramref name="typeDefault"/> (the service's documented limit) when none is set.</summary>
    public Channels.RateLimit LimitOr(Channels.RateLimit typeDefault) =>
        RateRequests > 0 ? new Channels.RateLimit(RateRequests, TimeSpan.FromSeconds(RatePerSeconds)) : typeDefault;

    internal static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0;

    internal void Validate(string key, List<string> errors)
    {
        OptionRanges.AddTo(errors, new AlertChannelOptionsValidator().Validate(null, this), key);
        if (Name.Length == 0)
        {
            errors.Add($"{key}Name: every channel needs a name (routes and the API use it)");
        }
        else if (!Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            errors.Add($"{key}Name: '{Name}' may hold only letters, digits, '-', '_' and '.'");
        }

        if (!Types.Contains(Type))
        {
            errors.Add($"{key}Type: must be one of {string.Join(", ", Types)}, got '{Type}'");
            return;
        }

        var hasSecret = Secret.Length > 0 || SecretFile.Length > 0;
        if (Secret.Length > 0 && SecretFile.Length > 0)
        {
            errors.Add($"{key}SecretFile: give Secret or SecretFile, not both");
        }

        if (Secret.StartsWith("whsec_", StringComparison.Ordinal) && !Convert.TryFromBase64String(Secret["whsec_".Length..], new byte[Secret.Length], out _))
        {
            errors.Add($"{key}Secret: a whsec_ secret must be base64 after its prefix (Standard Webhooks)");
        }

        if (SecretFile.Length > 0 && !File.Exists(SecretFile))
        {
            errors.Add($"{key}SecretFile: {SecretFile} does not exist");
        }

        var urlRequired = Type is "slack" or "discord" or "teams" or "alertmanager" or "webhook";
        if (Url.Length == 0 && urlRequired)
        {
            errors.Add($"{key}Url: a {Type} channel needs the URL to post to");
        }
        else if (Url.Length > 0 && !IsHttpUrl(Url))
        {
            errors.Add($"{key}Url: '{Redacted(Url)}' is not an http or https URL");
        }

        switch (Type)
        {
            case "pagerduty" when RoutingKey.Length == 0 && SecretFile.Length == 0:
                errors.Add($"{key}RoutingKey: a pagerduty channel needs its integration key (RoutingKey, or SecretFile)");
                break;
            case "telegram" when !hasSecret:
                errors.Add($"{key}Secret: a telegram channel needs its bot token (Secret or SecretFile)");
                break;
            case "telegram" when ChatId.Length == 0:
                errors.Add($"{key}ChatId: a telegram channel needs the chat to post to");
                break;
            case "script" when Command.Length == 0:
                errors.Add($"{key}Command: a script channel needs the program to run");
                break;
        }

        foreach (var name in Events.Where(e => !AlertEventNames.TryParse(e, out var kind) || kind == AlertEventKind.Test))
        {
            errors.Add($"{key}Events: '{name}' is not an event (opened, escalated, mitigated, resolved)");
        }

        if ((RateRequests == 0) != (RatePerSeconds == 0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}RateRequests: give both RateRequests and RatePerSeconds (or neither), got {RateRequests} per {RatePerSeconds} s"));
        }
    }

    /// <summary>A URL with its path and query hidden: webhook URLs carry their token in the path.</summary>
    public static string Redacted(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? $"{uri.Scheme}://{uri.Authority}/…" : "(not a URL)";
}

[OptionsValidator]
internal sealed partial class AlertOptionsValidator : IValidateOptions<AlertOptions>;

[OptionsValidator]
internal sealed partial class AlertChannelOptionsValidator : IValidateOptions<AlertChannelOptions>;
