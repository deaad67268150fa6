using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Operations;

/// <summary>
/// The shipped dashboards and alert rules against a real Prometheus scraping a real collector under an attack:
/// every panel's, annotation's and variable's query runs without error and shows data whenever the metrics it reads
/// exist, every rule evaluates cleanly, and the incident rule fires while the attack is on.
/// </summary>
public sealed partial class DashboardTests(ITestOutputHelper output)
{
    private const string Victim = "203.0.113.10";
    private volatile bool _flood;

    public static TheoryData<string> Dashboards => ["flowcollector-overview.json", "flowcollector-health.json", "flowcollector-fleet.json"];

    private List<Flow> Traffic() => NetFlowV5Sender.DnsAmplificationOn(Victim, _flood);

    [Fact]
    public async Task Dashboards_UnderAnAttack_EveryQueryAnswersWithDataAndTheIncidentAlertFires()
    {
        Flowcollector.Require(File.Exists("/usr/bin/prometheus"), "prometheus is not installed (apt-get install prometheus)");
        await using var exporter = new ExporterRun("flowcollector-dashboards-", Traffic);
        await using var collector = await CollectorProcess.StartAsync(
            exporter.Data, exporter.Port, "--monitor", "203.0.113.0/24", "--learning-seconds", "3", "--set", "ProcNetDev:Mode=off",
            "--set", "Detection:DefaultCapacityBps=1000000000");
        using var prometheus = Prometheus.Start(exporter.Data.FullName, collector.Http);
        await collector.WaitForCalibratedAsync();
        _flood = true;
        await Eventually.True(async () => await collector.MetricAsync("flowcollector_incidents_open") > 0, "the incident");
        await Eventually.Until(async () => (await prometheus.QueryAsync("flowcollector_incidents_open > 0")).Count > 0 ? "scraped" : null, "Prometheus scraping the incident");

        // Enough scrapes for the panels' rates over their interval (30 s here, as Grafana's $__rate_interval would be).
        await Eventually.True(async () => (await prometheus.QueryAsync("count_over_time(flowcollector_build_info[30s]) >= 15")).Count > 0, "15 scrapes");

        var firingType = await Eventually.Until(async () => FiringIncidentType(await prometheus.GetAsync("/api/v1/alerts")), "FlowCollectorIncidentOpen firing");
        Assert.Equal("dns_amplification", firingType);

        // Every rule of the shipped file evaluates without error.
        await Eventually.True(async () => Rules(await prometheus.GetAsync("/api/v1/rules")).All(r => r.Health == "ok"), "every rule evaluated");
        var rules = Rules(await prometheus.GetAsync("/api/v1/rules"));
        Assert.Equal(14, rules.Count);
        Assert.All(rules, r => Assert.True(r.Health == "ok", $"{r.Name}: {r.LastError}"));

        foreach (var name in Dashboards.Select(d => d.Data))
        {
            await CheckDashboardAsync(prometheus, name);
        }
    }

    [Fact]
    public void Rules_PromtoolCheckAndUnitTests_Pass()
    {
        Flowcollector.Require(File.Exists("/usr/bin/promtool"), "promtool is not installed (apt-get install prometheus)");
        var directory = Path.Combine(Flowcollector.RepositoryRoot, "deploy", "prometheus");
        var (checkExit, checkOutput) = Run("/usr/bin/promtool", directory, "check", "rules", "flowcollector.rules.yml");
        Assert.True(checkExit == 0, checkOutput);
        Assert.Contains("SUCCESS: 14 rules found", checkOutput, StringComparison.Ordinal);
        var (testExit, testOutput) = Run("/usr/bin/promtool", directory, "test", "rules", "flowcollector.rules.test.yml");
        Assert.True(testExit == 0, testOutput);
    }

    [Fact]
    public void Dashboards_Committed_AreWhatTheGeneratorWrites()
    {
        var (exit, text) = Run("/usr/bin/python3", Flowcollector.RepositoryRoot, Path.Combine("deploy", "grafana", "generate.py"), "--check");
        Assert.True(exit == 0, text);
    }

    private static (int ExitCode, string Output) Run(string program, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    private async Task CheckDashboardAsync(Prometheus prometheus, string name)
    {
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Flowcollector.RepositoryRoot, "deploy", "grafana", name)));
        var root = dashboard.RootElement;
        Assert.Equal("DS_PROMETHEUS", root.GetProperty("__inputs")[0].GetProperty("name").GetString());
        var queries = new List<(string Where, string Expr)>();
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            Assert.Equal("${DS_PROMETHEUS}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.False(string.IsNullOrEmpty(panel.GetProperty("fieldConfig").GetProperty("defaults").GetProperty("unit").GetString()), $"{name}: panel {panel.GetProperty("title")} has no unit");
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                queries.Add(($"{name}: panel '{panel.GetProperty("title").GetString()}'", target.GetProperty("expr").GetString()!));
            }
        }

        foreach (var annotation in root.GetProperty("annotations").GetProperty("list").EnumerateArray())
        {
            queries.Add(($"{name}: annotation '{annotation.GetProperty("name").GetString()}'", annotation.GetProperty("expr").GetString()!));
        }

        Assert.NotEmpty(queries);
        foreach (var (where, expr) in queries)
        {
            var query = Instantiate(expr);

            // No panel may group or filter by a label that carries a victim's address.
            Assert.DoesNotContain("address", expr, StringComparison.Ordinal);
            var result = await prometheus.QueryAsync(query);
            var metrics = MetricName().Matches(expr).Select(m => m.Value).Distinct().ToList();
            var present = true;
            foreach (var metric in metrics)
            {
                present &= (await prometheus.QueryAsync($"count({{__name__=\"{metric}\"}})")).Count > 0;
            }

            output.WriteLine($"{where}: {result.Count} series{(present ? string.Empty : " (a metric it reads has no series in this run)")}");
            if (present)
            {
                Assert.True(result.Count > 0, $"{where} shows nothing although its metrics exist: {query}");
            }
        }

        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
        {
            var definition = variable.GetProperty("definition").GetString()!;
            var match = LabelValues().Match(definition);
            Assert.True(match.Success, $"{name}: variable {variable.GetProperty("name")} is not label_values(...): {definition}");
            var values = await prometheus.GetAsync($"/api/v1/label/{match.Groups["label"].Value}/values?match[]={Uri.EscapeDataString(Instantiate(match.Groups["selector"].Value))}");
            Assert.True(values.GetProperty("data").GetArrayLength() > 0, $"{name}: variable {variable.GetProperty("name")} has no values: {definition}");
        }
    }

    /// <summary>The attack type of the firing FlowCollectorIncidentOpen alert, if one fires.</summary>
    private static string? FiringIncidentType(JsonElement alerts)
    {
        foreach (var alert in alerts.GetProperty("data").GetProperty("alerts").EnumerateArray())
        {
            var labels = alert.GetProperty("labels");
            if (labels.GetProperty("alertname").GetString() == "FlowCollectorIncidentOpen" && alert.GetProperty("state").GetString() == "firing")
            {
                return labels.GetProperty("type").GetString();
            }
        }

        return null;
    }

    /// <summary>A panel's query as Grafana sends it with every variable at All.</summary>
    private static string Instantiate(string expr) => expr
        .Replace("$__rate_interval", "30s", StringComparison.Ordinal)
        .Replace("$node", ".*", StringComparison.Ordinal)
        .Replace("$interface", ".*", StringComparison.Ordinal)
        .Replace("$direction", ".*", StringComparison.Ordinal)
        .Replace("$exporter", ".*", StringComparison.Ordinal)
        .Replace("$collector", ".*", StringComparison.Ordinal)
        .Replace("$job", ".*", StringComparison.Ordinal);

    private static List<(string Name, string Health, string? LastError)> Rules(JsonElement response) =>
        [.. response.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("health").GetString()!, r.TryGetProperty("lastError", out var e) ? e.GetString() : null))];

    [GeneratedRegex(@"\b(?:flowcollector|process)_[a-z_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^label_values\((?<selector>.+),\s*(?<label>\w+)\)$")]
    private static partial Regex LabelValues();

    /// <summary>The Debian package's Prometheus on loopback, scraping the collector every second with the shipped rules.</summary>
    private sealed class Prometheus : IDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _client;

        private Prometheus(Process process, int port)
        {
            _process = process;
            _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        }

        public static Prometheus Start(string directory, Uri collector)
        {
            var port = CollectorProcess.FreeTcpPort();
            var config = Path.Combine(directory, "prometheus.yml");
            File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - {Path.Combine(Flowcollector.RepositoryRoot, "deploy", "prometheus", "flowcollector.rules.yml")}
                scrape_configs:
                  - job_name: flowcollector
                    static_configs:
                      - targets: ["{collector.Authority}"]
                """));
            var process = Daemon.Launch(
                "/usr/bin/prometheus", directory, null,
                $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "tsdb")}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn");
            var prometheus = new Prometheus(process, port);
            Eventually.TrueNow(() => !process.HasExited && prometheus.Ready(), "Prometheus ready");
            return prometheus;
        }

        public async Task<JsonElement> GetAsync(string path)
        {
            using var document = JsonDocument.Parse(await _client.GetStringAsync(new Uri(path, UriKind.Relative)));
            return document.RootElement.Clone();
        }

        /// <summary>An instant query's result vector; fails the test when Prometheus refuses the query.</summary>
        public async Task<List<JsonElement>> QueryAsync(string query)
        {
            using var response = await _client.GetAsync(new Uri("/api/v1/query?query=" + Uri.EscapeDataString(query), UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{query}: {body}");
            using var document = JsonDocument.Parse(body);
            var data = document.RootElement.GetProperty("data");
            return data.GetProperty("resultType").GetString() == "vector" ? [.. data.GetProperty("result").EnumerateArray().Select(r => r.Clone())] : [];
        }

        public void Dispose()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
            _client.Dispose();
        }

        private bool Ready()
        {
            try
            {
                using var response = _client.GetAsync(new Uri("/-/ready", UriKind.Relative)).GetAwaiter().GetResult();
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }
    }
}
