using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Configuration;

/// <summary>
/// Mistakes a tired operator makes, each of which used to pass silently: a list written as one value, a JSON syntax
/// error without its place, mitigation enabled while any host may send exports, and values out of range.
/// </summary>
public sealed class ConfigurationSafetyTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = ConfigurationFiles.NoEnvironment;

    private static LoadedConfiguration LoadJson(string json, IDictionary<string, string?>? environment = null, CommandLineOverrides? overrides = null) =>
        ConfigurationFiles.LoadJson(json, environment, overrides);

    public static TheoryData<string, string> ListsWrittenAsOneValue() => new()
    {
        { """{ "Mitigation": { "Allowlist": "203.0.113.10/32" } }""", "Mitigation:Allowlist: a list is expected, not the single value '203.0.113.10/32'; in the file write \"Allowlist\": [ \"203.0.113.10/32\" ]" },
        { """{ "Listeners": { "AllowedExporters": "192.0.2.1" } }""", "Listeners:AllowedExporters: a list is expected" },
        { """{ "Monitor": { "Prefixes": "203.0.113.0/24" } }""", "Monitor:Prefixes: a list is expected" },
        { """{ "Mitigation": { "Policy": { "Critical": "rtbh" } } }""", "Mitigation:Policy:Critical: a list is expected" },
        { """{ "Mitigation": { "Overrides": [ { "Prefix": "203.0.113.0/25", "Policy": { "High": "flowspec" } } ] } }""", "Mitigation:Overrides:0:Policy:High: a list is expected" },
        { """{ "Detection": { "Overrides": "ae0" } }""", "Detection:Overrides: a list of objects is expected" },
    };

    [Theory]
    [MemberData(nameof(ListsWrittenAsOneValue))]
    public void Load_AListWrittenAsOneValueInTheFile_IsAnErrorShowingTheListForm(string json, string expected)
    {
        var loaded = LoadJson(json);

        Assert.Contains(loaded.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Load_AListWrittenAsOneValueInTheEnvironmentOrWithSet_IsAnErrorShowingTheIndexedForm()
    {
        var loaded = ConfigurationLoader.Load(
            new CommandLineOverrides { Settings = ["Mitigation:Allowlist=203.0.113.10/32"] },
            new Dictionary<string, string?> { ["FLOWCOLLECTOR__Listeners__AllowedExporters"] = "192.0.2.1" });

        Assert.Contains(loaded.Errors, e => e.Contains("Mitigation:Allowlist: a list is expected", StringComparison.Ordinal) && e.Contains("--set Mitigation:Allowlist:0=203.0.113.10/32", StringComparison.Ordinal));
        Assert.Contains(loaded.Errors, e => e.Contains("Listeners:AllowedExporters: a list is expected", StringComparison.Ordinal) && e.Contains("FLOWCOLLECTOR__Listeners__AllowedExporters__0=192.0.2.1", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_ListsInTheirListFormsAndEmptyLists_Bind()
    {
        var loaded = ConfigurationLoader.Load(
            new CommandLineOverrides { Settings = ["Mitigation:Allowlist:0=203.0.113.10/32", "Mitigation:Allowlist:1=203.0.113.11/32"] },
            new Dictionary<string, string?> { ["FLOWCOLLECTOR__Listeners__AllowedExporters__0"] = "192.0.2.1" });
        var empty = LoadJson("""{ "Mitigation": { "Allowlist": [], "Policy": { "Low": [] } }, "Capture": { "Interfaces": [] } }""");

        Assert.Empty(loaded.Errors);
        Assert.Equal(["203.0.113.10/32", "203.0.113.11/32"], loaded.Options.Mitigation.Allowlist);
        Assert.Equal(["192.0.2.1"], loaded.Options.Listeners.AllowedExporters);
        Assert.Empty(empty.Errors);
    }

    [Fact]
    public void Load_JsonSyntaxError_NamesItsLineAndColumn()
    {
        var loaded = LoadJson("{\n  \"Listeners\": {\n    \"NetFlowPort\": 2055,\n  }\n  \"Http\": { }\n}\n");

        var error = Assert.Single(loaded.Errors);
        Assert.Contains("not valid JSON at line 5, column 3", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_JsonWithCommentsAndTrailingCommas_IsAccepted()
    {
        var loaded = LoadJson("{\n  // the collector's own ports\n  \"Listeners\": { \"NetFlowPort\": 2056, },\n}\n");

        Assert.Empty(loaded.Errors);
        Assert.Equal(2056, loaded.Options.Listeners.NetFlowPort);
    }

    private const string Mitigating = """
        "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
        "Mitigation": { "Enabled": true, "Policy": { "Low": [ "nftables" ], "Medium": [ "nftables" ], "High": [ "nftables" ], "Critical": [ "nftables" ] }
        """;

    [Fact]
    public void Load_MitigationWhileAnyHostMaySendExports_IsAnError()
    {
        var loaded = LoadJson($$"""{ {{Mitigating}} } }""");

        var error = Assert.Single(loaded.Errors);
        Assert.StartsWith("Mitigation:Enabled: any host can send exports", error, StringComparison.Ordinal);
        Assert.Contains("Listeners:AllowedExporters", error, StringComparison.Ordinal);
        Assert.Contains("Mitigation:TrustAnyExporter", error, StringComparison.Ordinal);
    }

    public static TheoryData<string> MitigationThatMayRun() => new()
    {
        $$"""{ "Listeners": { "AllowedExporters": [ "192.0.2.1" ] }, {{Mitigating}} } }""",
        $$"""{ {{Mitigating}}, "TrustAnyExporter": true } }""",
        $$"""{ {{Mitigating}}, "DryRun": true } }""",
        $$"""{ "Listeners": { "NetFlowPort": 0, "IpfixPort": 0, "SFlowPort": 0 }, "Capture": { "Interfaces": [ "eth1" ] }, {{Mitigating}} } }""",
    };

    [Theory]
    [MemberData(nameof(MitigationThatMayRun))]
    public void Load_MitigationWithAllowedExportersOrAnExplicitOptOutOrNoExportsAtAll_IsAccepted(string json)
    {
        Assert.Empty(LoadJson(json).Errors);
    }

    public static TheoryData<string, string> ValuesOutOfRange() => new()
    {
        { "Mitigation:ExaBgp:AckTimeoutMilliseconds=0", "Mitigation:ExaBgp:AckTimeoutMilliseconds: must be between 100 and 60000" },
        { "Mitigation:ExaBgp:AckTimeoutMilliseconds=-5", "Mitigation:ExaBgp:AckTimeoutMilliseconds: must be between 100 and 60000" },
        { "Mitigation:ExaBgp:FlowSpecRateLimit=NaN", "Mitigation:ExaBgp:FlowSpecRateLimit: bytes per second" },
        { "Mitigation:ExaBgp:FlowSpecRateLimit=Infinity", "Mitigation:ExaBgp:FlowSpecRateLimit: bytes per second" },
        { "Storage:IncidentRetentionDays=-1", "Storage:IncidentRetentionDays: must be between 0" },
        { "Metrics:MaxExporterSeries=0", "Metrics:MaxExporterSeries: must be between 1" },
        { "Detection:MaxOpenIncidents=0", "Detection:MaxOpenIncidents: must be between 1" },
        { "Decoder:MaxTemplateBytes=100", "Decoder:MaxTemplateBytes: must be between 4096" },
        { "Aggregation:MaxRecordPps=NaN", "Aggregation:MaxRecordPps: must be between" },
    };

    [Theory]
    [MemberData(nameof(ValuesOutOfRange))]
    public void Load_ValueOutOfRange_NamesTheKey(string setting, string expected)
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides { Settings = [setting] }, NoEnvironment);

        Assert.Contains(loaded.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void CheckConfig_SafetyLists_PrintsExportersHeardAndTheAllowlist()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flowcollector-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              "Listeners": { "AllowedExporters": [ "192.0.2.0/28", "198.51.100.1" ] },
              "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
              "Mitigation": { "Enabled": true, "Allowlist": [ "203.0.113.1" ], "AllowlistLocalAddresses": false,
                "Policy": { "Low": [ "flowspec" ] }, "ExaBgp": { "Socket": "/run/flowcollector/exabgp.sock", "NextHop": "192.0.2.99", "Peers": [ "192.0.2.254" ] } }
            }
            """);
        try
        {
            var (exit, output, error) = Flowcollector.Run("check-config", "--config", path);

            Assert.True(exit == 0, error);
            Assert.Contains("exporters heard: 192.0.2.0/28, 198.51.100.1/32", output, StringComparison.Ordinal);
            Assert.Contains("monitored prefixes: 203.0.113.0/24", output, StringComparison.Ordinal);
            Assert.Contains("mitigation: on", output, StringComparison.Ordinal);
            Assert.Contains("203.0.113.1/32  (Mitigation:Allowlist)", output, StringComparison.Ordinal);
            Assert.Contains("192.0.2.254/32  (Mitigation:ExaBgp:Peers)", output, StringComparison.Ordinal);
            Assert.Contains("192.0.2.99/32  (Mitigation:ExaBgp:NextHop)", output, StringComparison.Ordinal);
            Assert.DoesNotContain("this machine's address", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
