using FlowCollector.Exporters.Alerts;

namespace FlowCollector.Exporters.Tests.Alerts;

/// <summary>A bad Alerts section names the key and the reason, as every other section does.</summary>
public sealed class AlertOptionsTests
{
    [Fact]
    public void Validate_EveryMistake_NamedByItsKey()
    {
        var options = new AlertOptions
        {
            Channels =
            [
                new AlertChannelOptions { Name = "ops", Type = "slack" },
                new AlertChannelOptions { Name = "ops", Type = "webhook", Url = "ftp://192.0.2.1/x", Secret = "whsec_***" },
                new AlertChannelOptions { Name = "tg", Type = "telegram", Secret = "1:t" },
                new AlertChannelOptions { Name = "pd", Type = "pagerduty" },
                new AlertChannelOptions { Name = "bad name", Type = "sms", TimeoutSeconds = 0 },
                new AlertChannelOptions { Name = "sh", Type = "script", Events = ["opened", "closed"], RateRequests = 3 },
            ],
            Overrides = [new AlertRouteOverride { Prefix = "198.51.100.0/33" }, new AlertRouteOverride()],
            MaxAgeMinutes = 0,
        };
        options.Routes.Critical = ["ops", "pager"];

        var errors = options.Validate();

        Assert.Equal(
            [
                "MaxAgeMinutes: must be between 1 and 10080, got 0",
                "Channels:0:Url: a slack channel needs the URL to post to",
                "Channels:1:Secret: a whsec_ secret must be base64 after its prefix (Standard Webhooks)",
                "Channels:1:Url: 'ftp://192.0.2.1/…' is not an http or https URL",
                "Channels:1:Name: 'ops' names two channels",
                "Channels:2:ChatId: a telegram channel needs the chat to post to",
                "Channels:3:RoutingKey: a pagerduty channel needs its integration key (RoutingKey, or SecretFile)",
                "Channels:4:TimeoutSeconds: must be between 1 and 300, got 0",
                "Channels:4:Name: 'bad name' may hold only letters, digits, '-', '_' and '.'",
                "Channels:4:Type: must be one of slack, discord, pagerduty, teams, telegram, alertmanager, webhook, script, got 'sms'",
                "Channels:5:Command: a script channel needs the program to run",
                "Channels:5:Events: 'closed' is not an event (opened, escalated, mitigated, resolved)",
                "Channels:5:RateRequests: give both RateRequests and RatePerSeconds (or neither), got 3 per 0 s",
                "Routes:Critical: 'pager' is not a channel (Alerts:Channels names ops, tg, pd, bad name, sh)",
                "Overrides:0:Prefix: '33' is not a prefix length between 0 and 32",
                "Overrides:1: needs a Prefix or an Interface to apply to",
            ],
            errors);
    }

    [Fact]
    public void Validate_NoChannels_NothingToSay() => Assert.Empty(new AlertOptions().Validate());
}
