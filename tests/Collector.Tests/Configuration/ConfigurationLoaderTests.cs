using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Configuration;

public sealed class ConfigurationLoaderTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = ConfigurationFiles.NoEnvironment;

    private static LoadedConfiguration LoadJson(string json, IDictionary<string, string?>? environment = null, CommandLineOverrides? overrides = null) =>
        ConfigurationFiles.LoadJson(json, environment, overrides);

    [Fact]
    public void Load_NoFile_GivesTheEmbeddedDefaults()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides { ConfigPath = null }, NoEnvironment);

        Assert.Empty(loaded.Errors);
        Assert.Equal((2055, 4739, 6343), (loaded.Options.Listeners.NetFlowPort, loaded.Options.Listeners.IpfixPort, loaded.Options.Listeners.SFlowPort));
        Assert.Equal("0.0.0.0:9750", loaded.Options.Http.Listen);
        Assert.Equal("auto", loaded.Options.ProcNetDev.Mode);
        Assert.Equal(["lo"], loaded.Options.ProcNetDev.Exclude);
    }

    [Fact]
    public void Load_FileThenEnvironmentThenFlags_LaterOnesWin()
    {
        var loaded = LoadJson(
            """{ "Listeners": { "NetFlowPort": 9995, "IpfixPort": 9996 }, "Monitor": { "Prefixes": [ "203.0.113.0/24", "198.51.100.0/24" ] } }""",
            new Dictionary<string, string?> { ["FLOWCOLLECTOR__Listeners__IpfixPort"] = "9997", ["FLOWCOLLECTOR__Node__Name"] = "edge-1", ["OTHER"] = "x" },
            new CommandLineOverrides { NetFlowPort = 2056, Monitor = ["2001:db8::/32"], Settings = ["Aggregation:MaxDestinations=20000"] });

        Assert.Empty(loaded.Errors);
        Assert.Equal(2056, loaded.Options.Listeners.NetFlowPort);
        Assert.Equal(9997, loaded.Options.Listeners.IpfixPort);
        Assert.Equal("edge-1", loaded.Options.Node.Name);
        Assert.Equal(["2001:db8::/32"], loaded.Options.Monitor.Prefixes);
        Assert.Equal(20_000, loaded.Options.Aggregation.MaxDestinations);
    }

    public static TheoryData<string, string> BadFiles() => new()
    {
        { """{ "Listeners": { "NetFlowPrt": 2055 } }""", "Listeners:NetFlowPrt: unknown setting" },
        { """{ "Monitr": { } }""", "Monitr: unknown setting" },
        { """{ "Listeners": { "NetFlowPort": "two thousand" } }""", "Listeners:NetFlowPort" },
        { """{ "Listeners": { "NetFlowPort": 70000 } }""", "Listeners:NetFlowPort: must be a UDP port" },
        { """{ "Listeners": { "NetFlowPort": 2055, "IpfixPort": 2055 } }""", "ports must differ" },
        { """{ "Monitor": { "Prefixes": [ "203.0.113.0/33" ] } }""", "Monitor:Prefixes:0: '33' is not a prefix length" },
        { """{ "Monitor": { "Prefixes": [ "not-an-address" ] } }""", "Monitor:Prefixes:0: 'not-an-address' is not an IP address" },
        { """{ "Http": { "Listen": "9750" } }""", "Http:Listen" },
        { """{ "ProcNetDev": { "Mode": "sometimes" } }""", "ProcNetDev:Mode: must be auto, on or off" },
        { """{ "Aggregation": { "MaxDestinations": 0 } }""", "Aggregation:MaxDestinations: must be between" },
        { """{ "Decoder": { "MaxFieldsPerTemplate": 0 } }""", "Decoder:MaxFieldsPerTemplate: must be between" },
        { """{ "Listeners": { "AllowedExporters": [ "192.0.2.1/40" ] } }""", "Listeners:AllowedExporters:0" },
        { """{ "Listeners": { """, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Load_BadFile_FailsNamingTheKeyAndTheReason(string json, string expected)
    {
        var loaded = LoadJson(json);

        Assert.Contains(loaded.Errors, error => error.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Load_BadEnvironmentValue_NamesTheKey()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides(), new Dictionary<string, string?> { ["FLOWCOLLECTOR__Listeners__SFlowPort"] = "many" });

        Assert.Contains(loaded.Errors, error => error.Contains("Listeners:SFlowPort", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_ExplicitConfigThatDoesNotExist_IsAnError()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides { ConfigPath = "/nonexistent/flowcollector.json" }, NoEnvironment);

        Assert.Contains(loaded.Errors, error => error.Contains("/nonexistent/flowcollector.json does not exist", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_SetWithoutEquals_IsAnError()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides { Settings = ["Aggregation:MaxDestinations"] }, NoEnvironment);

        Assert.Contains(loaded.Errors, error => error.StartsWith("--set:", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckConfig_BadFile_ExitsWithTheConfigurationErrorCodeAndTheKey()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flowcollector-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "Listeners": { "SFlowPort": -1 } }""");
        try
        {
            var check = Flowcollector.Run("check-config", "--config", path);
            var run = Flowcollector.Run("run", "--config", path);

            Assert.Equal(78, check.ExitCode);
            Assert.Contains("Listeners:SFlowPort: must be a UDP port", check.Error, StringComparison.Ordinal);
            Assert.Equal(78, run.ExitCode);
            Assert.Contains("Listeners:SFlowPort", run.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CheckConfig_GoodFile_SaysSoAndSummarises()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flowcollector-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "Listeners": { "SFlowPort": 0 }, "Monitor": { "Prefixes": [ "203.0.113.0/24" ] } }""");
        try
        {
            var (exitCode, output, _) = Flowcollector.Run("check-config", "--config", path);

            Assert.Equal(0, exitCode);
            Assert.Contains("configuration OK", output, StringComparison.Ordinal);
            Assert.Contains("sflow off", output, StringComparison.Ordinal);
            Assert.Contains("203.0.113.0/24", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_ShippedExampleConfiguration_IsValid()
    {
        var loaded = ConfigurationLoader.Load(new CommandLineOverrides { ConfigPath = Path.Combine(Flowcollector.RepositoryRoot, "deploy", "flowcollector.json") }, NoEnvironment);

        Assert.Empty(loaded.Errors);
        Assert.Equal(["203.0.113.0/24", "2001:db8::/32"], loaded.Options.Monitor.Prefixes);
    }

    [Fact]
    public void Load_DetectionSettings_BindWithOverridesAndFloorsKeepingTheirDefaults()
    {
        var loaded = LoadJson(
            """
            {
              "Detection": {
                "CooldownSeconds": 60,
                "Floors": { "Destination": { "Pps": 500 } },
                "Overrides": [ { "Interface": "eth1", "LearningOnly": true }, { "Prefix": "198.51.100.0/24", "Fixed": { "Bps": 1e9 } } ]
              }
            }
            """,
            overrides: new CommandLineOverrides { LearningSeconds = 42 });

        Assert.Empty(loaded.Errors);
        var detection = loaded.Options.Detection;
        Assert.Equal((42, 60), (detection.LearningSeconds, detection.CooldownSeconds));
        Assert.Equal(500, detection.Floors.Destination.Pps);
        Assert.Equal(10e6, detection.Floors.Destination.Bps);
        Assert.True(detection.Overrides[0].LearningOnly);
        Assert.Equal(1e9, detection.Overrides[1].Fixed.Bps);
        Assert.Null(detection.Overrides[1].Fixed.Pps);
    }

    [Theory]
    [InlineData("""{ "Detection": { "Hysteresis": 1.5 } }""", "Detection:Hysteresis:")]
    [InlineData("""{ "Detection": { "Overrides": [ { "Prefix": "198.51.100.0/33" } ] } }""", "Detection:Overrides:0:Prefix:")]
    [InlineData("""{ "Detection": { "Overrides": [ { "Interface": "eth0", "Prefix": "198.51.100.0/24" } ] } }""", "Detection:Overrides:0: name either Interface or Prefix")]
    [InlineData("""{ "Detection": { "LearningFloors": { "Interface": { "SynPps": -1 } } } }""", "Detection:LearningFloors:Interface:SynPps:")]
    [InlineData("""{ "Storage": { "BaselineSaveSeconds": 1 } }""", "Storage:BaselineSaveSeconds:")]
    [InlineData("""{ "Detection": { "Floors": { "Destination": { "Ppps": 5 } } } }""", "Detection:Floors:Destination:Ppps: unknown setting")]
    public void Load_BadDetectionSettings_NameTheKey(string json, string expected)
    {
        var loaded = LoadJson(json);

        Assert.Contains(loaded.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void CheckConfig_EnvironmentVariables_AreReadWithTheirKeysNamedInErrors()
    {
        var (exit, output, error) = Flowcollector.RunWith(
            new Dictionary<string, string> { ["FLOWCOLLECTOR__Http__Listen"] = "127.0.0.1:19999", ["FLOWCOLLECTOR__Listeners__NetFlowPrt"] = "2055", ["FLOWCOLLECTOR__Detektion__Hysteresis"] = "0.5" },
            "check-config");
        var (goodExit, goodOutput, goodError) = Flowcollector.RunWith(new Dictionary<string, string> { ["FLOWCOLLECTOR__Http__Listen"] = "127.0.0.1:19999" }, "check-config");

        Assert.Equal(78, exit);
        Assert.Contains("Listeners:NetFlowPrt: unknown setting", error, StringComparison.Ordinal);
        Assert.Contains("Detektion: unknown setting", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Detektion:Hysteresis", error, StringComparison.Ordinal);
        Assert.True(goodExit == 0, goodError + output);
        Assert.Contains("http: 127.0.0.1:19999", goodOutput, StringComparison.Ordinal);
    }
}
