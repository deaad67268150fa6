using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Fleet;
using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Tests.Fleet;

public sealed class FleetConfigurationTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    private static IReadOnlyList<string> Errors(bool fleet, params string[] settings) =>
        ConfigurationLoader.Load(new CommandLineOverrides { Settings = settings, FleetService = fleet }, NoEnvironment).Errors;

    [Fact]
    public void Load_WithoutFleetSettings_PublishesNothing_AndTheFleetServiceNamesWhatItLacks()
    {
        Assert.Empty(Errors(fleet: false));
        var errors = Errors(fleet: true);
        Assert.Contains(errors, e => e.StartsWith("Fleet:Nats:Url: the fleet service consumes", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Fleet:Postgres:ConnectionString: the fleet service stores", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_NamesTheKeyAndReason_ForABadUrlSubjectNodeNameOrRange()
    {
        Assert.Contains(Errors(false, "Fleet:Nats:Url=http://127.0.0.1:4222"), e => e.StartsWith("Fleet:Nats:Url: 'http://127.0.0.1:4222' is not a NATS URL", StringComparison.Ordinal));
        Assert.Contains(Errors(false, "Fleet:Nats:Subject=flow.collector"), e => e.StartsWith("Fleet:Nats:Subject: 'flow.collector' must be one subject token", StringComparison.Ordinal));
        Assert.Contains(Errors(false, "Fleet:Nats:Url=nats://127.0.0.1:4222", "Node:Name=pop.example.net"), e => e.StartsWith("Node:Name: 'pop.example.net' names this node in NATS subjects", StringComparison.Ordinal));
        Assert.Contains(Errors(false, "Fleet:MaxSummaryKeys=0"), e => e.StartsWith("Fleet:MaxSummaryKeys: must be between 1 and 100000", StringComparison.Ordinal));
        Assert.Contains(Errors(false, "Fleet:Nats:Servers=x"), e => e.Contains("Fleet:Nats:Servers", StringComparison.Ordinal));
        Assert.Empty(Errors(false, "Fleet:Nats:Url=nats://127.0.0.1:4222", "Node:Name=pop-fra1"));
    }

    [Fact]
    public void Load_ForTheFleetService_TakesNoExportsAndServesBesideANode()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides
        {
            FleetService = true,
            Settings = ["Fleet:Nats:Url=nats://127.0.0.1:4222", "Fleet:Postgres:ConnectionString=Host=127.0.0.1", "Mitigation:Enabled=true", "Monitor:Prefixes:0=203.0.113.0/24"],
        }, NoEnvironment);
        // Mitigation acting on what no exporter sent: who may publish to NATS matters instead of who may send exports.
        Assert.DoesNotContain(loaded.Errors, e => e.Contains("AllowedExporters", StringComparison.Ordinal));
        Assert.Contains(loaded.Errors, e => e.StartsWith("Mitigation:Enabled: the fleet acts on the summaries any client of NATS may publish", StringComparison.Ordinal));
        Assert.DoesNotContain(
            ConfigurationLoader.Load(new CommandLineOverrides { FleetService = true, Settings = ["Fleet:Nats:Url=nats://fleet:secret@127.0.0.1:4222", "Fleet:Postgres:ConnectionString=Host=127.0.0.1", "Mitigation:Enabled=true", "Monitor:Prefixes:0=203.0.113.0/24"] }, NoEnvironment).Errors,
            e => e.StartsWith("Mitigation:Enabled: the fleet acts", StringComparison.Ordinal));
        var options = loaded.Options;
        Assert.Equal([0, 0, 0, 0], [options.Listeners.NetFlowPort, options.Listeners.IpfixPort, options.Listeners.SFlowPort, options.Listeners.MirrorPort]);
        Assert.Equal("fleet", options.Node.Name);
        Assert.Equal("0.0.0.0:9751", options.Http.Listen);
        Assert.Equal("off", options.ProcNetDev.Mode);
    }

    [Theory]
    [InlineData("node=pop-a&interface=ge-0%2F0%2F1&type=syn_flood&severity=high&open=false&since=2026-12-04T10:00:00Z&until=1796400000&limit=5", null)]
    [InlineData("type=tsunami", "type: 'tsunami' is not an attack type")]
    [InlineData("severity=urgent", "severity: 'urgent' is not low, medium, high or critical")]
    [InlineData("open=maybe", "open: 'maybe' is not true or false")]
    [InlineData("since=yesterday", "since: 'yesterday' is not a time")]
    [InlineData("limit=0", "limit: '0' is not a positive whole number")]
    [InlineData("colour=red", "colour: not a filter of /api/incidents")]
    public void TryReadFilter_ReadsEveryFilterOrSaysWhichIsWrong(string query, string? error)
    {
        var read = FleetEndpoints.TryReadFilter(query, out var filter, out var reason);
        if (error is not null)
        {
            Assert.False(read);
            Assert.StartsWith(error, reason, StringComparison.Ordinal);
            return;
        }

        Assert.True(read, reason);
        Assert.Equal("pop-a", filter.Node);
        Assert.Equal("ge-0/0/1", filter.Interface);
        Assert.Equal("syn_flood", filter.Type);
        Assert.Equal("high", filter.Severity);
        Assert.False(filter.Open);
        Assert.Equal(new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero), filter.Since);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796400000), filter.Until);
        Assert.Equal(5, filter.Limit);
    }

    [Fact]
    public void ExplainedKeys_ANodesIncidentExplainsItsKeyTheDestinationsOfItsPrefixAndThePrefixOfItsDestination()
    {
        var prefixes = new MonitoredPrefixes([IpPrefix.Parse("203.0.113.0/24"), IpPrefix.Parse("198.51.100.0/24")]);
        var explained = new ExplainedKeys(prefixes);
        var victim = TrafficKey.ForDestination(NetworkAddress.Parse("203.0.113.10"), 0);
        var other = TrafficKey.ForDestination(NetworkAddress.Parse("198.51.100.10"), 1);
        explained.Update("pop-a", 1, "destination", "203.0.113.10", open: true);
        explained.Update("pop-a", 2, "prefix", "198.51.100.0/24", open: true);
        explained.Update("pop-b", 1, "interface", null, open: true);
        explained.Snapshot();
        Assert.True(explained.Explains(victim));
        Assert.False(explained.Explains(TrafficKey.ForDestination(NetworkAddress.Parse("203.0.113.11"), 0)));
        Assert.True(explained.Explains(TrafficKey.ForPrefix(0)));
        Assert.True(explained.Explains(other));
        Assert.True(explained.Explains(TrafficKey.ForPrefix(1)));

        explained.Update("pop-a", 1, "destination", "203.0.113.10", open: false);
        explained.Snapshot();
        Assert.False(explained.Explains(victim));
        Assert.False(explained.Explains(TrafficKey.ForPrefix(0)));
    }
}
