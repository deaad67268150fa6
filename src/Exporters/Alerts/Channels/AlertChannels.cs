namespace FlowCollector.Exporters.Alerts.Channels;

/// <summary>Builds the configured channels; secrets are read from their files here, once, at start-up.</summary>
public static class AlertChannels
{
    /// <summary>The name every channel's HTTP client is registered under.</summary>
    public const string HttpClientName = "alerts";

    /// <summary>The channels, or the first reason one cannot be built (a secret file that cannot be read), naming its key.</summary>
    public static bool TryCreate(AlertOptions options, Func<HttpClient> http, TimeProvider time, out List<IAlertChannel> channels, out string error)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(http);
        channels = [];
        for (var i = 0; i < options.Channels.Count; i++)
        {
            var channel = options.Channels[i];
            var secret = channel.Secret;
            if (channel.SecretFile.Length > 0)
            {
                try
                {
                    secret = File.ReadAllText(channel.SecretFile).TrimEnd();
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    error = $"Alerts:Channels:{i}:SecretFile: cannot read {channel.SecretFile} ({exception.Message})";
                    return false;
                }
            }

            try
            {
                channels.Add(channel.Type switch
                {
                    "slack" => new SlackChannel(channel, http()),
                    "discord" => new DiscordChannel(channel, http()),
                    "pagerduty" => new PagerDutyChannel(channel, http(), channel.RoutingKey.Length > 0 ? channel.RoutingKey : secret),
                    "teams" => new TeamsChannel(channel, http()),
                    "telegram" => new TelegramChannel(channel, http(), secret),
                    "alertmanager" => new AlertmanagerChannel(channel, http(), time),
                    "webhook" => new WebhookChannel(channel, http(), secret, time),
                    _ => new ScriptChannel(channel),
                });
            }
            catch (FormatException)
            {
                error = $"Alerts:Channels:{i}:Secret: a whsec_ secret must be base64 after its prefix";
                return false;
            }
        }

        error = string.Empty;
        return true;
    }
}
