using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Mitigation;

/// <summary>
/// FlowSpec and RTBH for real: the collector drives a real ExaBGP through the relay, and the routes are read from
/// the RIB of a real GoBGP peered with it on loopback. The attack is NetFlow v5 sent to the collector.
/// </summary>
public sealed class ExaBgpMitigationTests(ITestOutputHelper output)
{
    private const uint Blackhole = 0xFFFF029A;
    private const uint NoExport = 0xFFFFFF01;
    private const string FlowSpecKey = "[destination: 203.0.113.10/32][protocol: ==udp][source-port: ==53]";
    private readonly HashSet<string> _flooded = [];

    /// <summary>Packets a second of each of the flood's eight reflectors.</summary>
    private double _reflectorPps = 800;

    private List<Flow> Traffic()
    {
        var flows = new List<Flow>();
        foreach (var host in new[] { "203.0.113.10", "203.0.113.20", "203.0.113.30" })
        {
            flows.Add(new Flow("198.51.100.20", host, 6, 40_000, 443, 150, 900, 0x10));
            lock (_flooded)
            {
                if (_flooded.Contains(host))
                {
                    for (var i = 0; i < 8; i++)
                    {
                        flows.Add(new Flow($"192.0.2.{100 + i}", host, 17, 53, (ushort)(20_000 + i), _reflectorPps, 1_200));
                    }
                }
            }
        }

        return flows;
    }

    private void Flood(string host, bool on)
    {
        lock (_flooded)
        {
            if (on)
            {
                _flooded.Add(host);
            }
            else
            {
                _flooded.Remove(host);
            }
        }
    }

    private static string Config(string directory, BgpLab lab, string extra = "", string name = "flowcollector.json", string detection = "", bool enabled = true) =>
        Config(directory, lab.Socket, extra, name, detection, enabled);

    private static string Config(string directory, string socket, string extra = "", string name = "flowcollector.json", string detection = "", bool enabled = true)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, $$"""
            {
              "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
              "Listeners": { "AllowedExporters": [ "127.0.0.1" ] },
              "ProcNetDev": { "Mode": "off" },
              "Detection": { {{detection}} "LearningSeconds": 3, "CooldownSeconds": 3 },
              "Mitigation": {
                "Enabled": {{(enabled ? "true" : "false")}},
                "WithdrawGraceSeconds": 1,
                {{extra}}
                "Policy": { "Low": [ "flowspec", "rtbh" ], "Medium": [ "flowspec", "rtbh" ], "High": [ "flowspec", "rtbh" ], "Critical": [ "flowspec", "rtbh" ] },
                "ExaBgp": { "Socket": "{{socket}}", "NextHop": "192.0.2.1", "Peers": [ "127.0.0.1", "127.0.0.2" ] }
              }
            }
            """);
        return path;
    }

    [Fact]
    public async Task ExaBgp_Attack_IsAnnouncedAndWithdrawnWhenItEndsAndAfterKill9()
    {
        BgpLab.RequireAvailable();
        using var lab = BgpLab.Start();
        await using var exporter = new ExporterRun("flowcollector-exabgp-", Traffic);
        var config = Config(exporter.Data.FullName, lab);
        await using var collector = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", config);
        await collector.WaitForCalibratedAsync();
        Flood("203.0.113.10", on: true);
        var flowSpec = await Eventually.Until(() => lab.FlowSpec() is var routes && routes.ContainsKey(FlowSpecKey) ? routes : null, "the FlowSpec route", pollMilliseconds: 20);
        var announced = DateTimeOffset.UtcNow;
        Assert.Equal(0, flowSpec[FlowSpecKey]);
        await Eventually.Until(() => lab.Unicast().ContainsKey("203.0.113.10/32") ? "announced" : null, "the RTBH route", pollMilliseconds: 20);
        var route = lab.Unicast()["203.0.113.10/32"];
        Assert.Equal("192.0.2.1", route.NextHop);
        Assert.Contains(Blackhole, route.Communities);
        Assert.Contains(NoExport, route.Communities);

        var incident = (await Get(collector, "/api/incidents?open=true")).Single(i => i.GetProperty("keyKind").GetString() == "destination");
        var toRib = announced - incident.GetProperty("openedAt").GetDateTimeOffset();
        output.WriteLine($"incident opened to FlowSpec route in GoBGP's RIB: {toRib.TotalMilliseconds:F0} ms");
        Assert.InRange(toRib.TotalMilliseconds, 0, 1_000);
        var actions = await Get(collector, "/api/mitigations?active=true");
        Assert.Equal(["flowspec", "rtbh"], actions.Select(a => a.GetProperty("kind").GetString()).Order());
        Assert.All(actions, a => Assert.Equal(incident.GetProperty("id").GetInt64(), a.GetProperty("incidentId").GetInt64()));

        // The attack ends: cool-down and grace later, both routes are withdrawn.
        Flood("203.0.113.10", on: false);
        await Eventually.Until(() => !lab.FlowSpec().ContainsKey(FlowSpecKey) && !lab.Unicast().ContainsKey("203.0.113.10/32") ? "gone" : null, "the withdrawals", pollMilliseconds: 20);
        Assert.Empty(await Get(collector, "/api/mitigations?active=true"));

        // Again, and kill -9 while announced: ExaBGP keeps the routes; the restarted collector withdraws them.
        Flood("203.0.113.10", on: true);
        await Eventually.Until(() => lab.FlowSpec().ContainsKey(FlowSpecKey) ? "announced" : null, "the second announcement", pollMilliseconds: 20);
        await collector.KillHardAsync();
        Flood("203.0.113.10", on: false);
        await Eventually.Holds(() => Task.FromResult(lab.FlowSpec().ContainsKey(FlowSpecKey)), "ExaBGP announcing while the collector is away", 2);

        await using var restarted = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", config);
        await Eventually.Until(() => !lab.FlowSpec().ContainsKey(FlowSpecKey) && !lab.Unicast().ContainsKey("203.0.113.10/32") ? "gone" : null, "the withdrawals after the restart", pollMilliseconds: 20);
        Assert.Empty(await Get(restarted, "/api/mitigations?active=true"));
    }

    [Fact]
    public async Task ExaBgp_AllowlistCapsAndManualWithdrawal_AllHold()
    {
        BgpLab.RequireAvailable();
        using var lab = BgpLab.Start();
        await using var exporter = new ExporterRun("flowcollector-exabgp-", Traffic);
        var config = Config(exporter.Data.FullName, lab, """ "Allowlist": [ "203.0.113.20/32" ], "MaxAnnouncements": 2, """);
        await using var collector = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", config);
        await collector.WaitForCalibratedAsync();
        Flood("203.0.113.20", on: true);
        Flood("203.0.113.10", on: true);
        Flood("203.0.113.30", on: true);
        await Eventually.Until(async () => (await Get(collector, "/api/incidents?open=true")).Count(i => i.GetProperty("keyKind").GetString() == "destination") == 3 ? "three" : null, "three incidents");
        await Eventually.True(async () => (await Get(collector, "/api/mitigations?active=true")).Count == 2 && collector.Output.Contains("is reached", StringComparison.Ordinal), "two actions and the cap said");

        var incidents = await Get(collector, "/api/incidents?open=true");
        var allowlisted = incidents.Single(i => i.GetProperty("address").GetString() == "203.0.113.20").GetProperty("id").GetInt64();
        var actions = await Get(collector, "/api/mitigations?active=true");
        Assert.DoesNotContain(actions, a => a.GetProperty("incidentId").GetInt64() == allowlisted);
        Assert.Equal(2, actions.Count);
        Assert.Single(actions.Select(a => a.GetProperty("incidentId").GetInt64()).Distinct());
        Assert.Contains("no mitigation for incident", collector.Output, StringComparison.Ordinal);
        Assert.Contains("is reached", collector.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(lab.Unicast().Keys, k => k.StartsWith("203.0.113.20", StringComparison.Ordinal));
        Assert.Single(lab.Unicast());

        // By hand: the FlowSpec route goes while the incident is still open, and is not put back.
        var flowSpec = actions.Single(a => a.GetProperty("kind").GetString() == "flowspec").GetProperty("id").GetInt64();
        var (exit, text, error) = Flowcollector.Run("mitigations", "withdraw", flowSpec.ToString(CultureInfo.InvariantCulture), "--data-dir", exporter.Data.FullName);
        Assert.True(exit == 0, error);
        Assert.Contains("withdrawn", text, StringComparison.Ordinal);
        await Eventually.Until(() => lab.FlowSpec().Count == 0 ? "gone" : null, "the FlowSpec route's withdrawal in GoBGP", pollMilliseconds: 20);
        await Eventually.Holds(() => Task.FromResult(lab.FlowSpec().Count == 0), "the FlowSpec route staying withdrawn", 3);
        Assert.Single(lab.Unicast());
    }

    [Fact]
    public async Task ExaBgp_AnnouncementWhileExaBgpIsAway_IsRetriedUntilItLands()
    {
        BgpLab.RequireAvailable();
        var directory = BgpLab.NewDirectory();
        await using var exporter = new ExporterRun("flowcollector-exabgp-", Traffic);
        var config = Config(exporter.Data.FullName, Path.Combine(directory, "exabgp.sock"), """ "RetrySeconds": 2, "MaxAttempts": 100, """);
        await using var collector = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", config);
        await collector.WaitForCalibratedAsync();
        Flood("203.0.113.10", on: true);

        // No ExaBGP yet: the actions are pending, with the reason, and the detection goes on regardless.
        var pending = await Eventually.Until(async () => await Get(collector, "/api/mitigations") is { Count: 2 } list && list.All(a => a.GetProperty("attempts").GetInt32() >= 1) ? list : null, "two attempted actions");
        Assert.All(pending, a => Assert.Equal("pending", a.GetProperty("state").GetString()));
        Assert.All(pending, a => Assert.Contains("not connected", a.GetProperty("error").GetString(), StringComparison.Ordinal));
        Assert.Contains("failed (attempt 1)", collector.Output, StringComparison.Ordinal);

        // /healthz says so: mitigation needs ExaBGP and it is not there.
        using (var health = await collector.Client.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var body = await health.Content.ReadAsStringAsync();
            Assert.Contains("\"status\":\"degraded\"", body, StringComparison.Ordinal);
            Assert.Contains("\"exabgp\":\"disconnected\"", body, StringComparison.Ordinal);
            Assert.Contains("mitigation needs ExaBGP", body, StringComparison.Ordinal);
        }

        // ExaBGP comes up and its relay connects: the next retry lands both routes.
        using var lab = BgpLab.Start(directory);
        await Eventually.Until(() => lab.FlowSpec().ContainsKey(FlowSpecKey) && lab.Unicast().ContainsKey("203.0.113.10/32") ? "announced" : null, "the announcements after ExaBGP came up", pollMilliseconds: 20);
        var applied = await Get(collector, "/api/mitigations?active=true");
        Assert.All(applied, a => Assert.Equal("applied", a.GetProperty("state").GetString()));
        Assert.All(applied, a => Assert.True(a.GetProperty("attempts").GetInt32() >= 2));
        Assert.Contains("\"status\":\"ok\"", await collector.GetAsync("/healthz"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExaBgp_RtbhOnAKnownLink_WaitsForItsShare()
    {
        BgpLab.RequireAvailable();
        using var lab = BgpLab.Start();
        await using var exporter = new ExporterRun("flowcollector-exabgp-", Traffic);

        // The links are 100 Gbit/s: a 60 Mbit/s flood is worth a FlowSpec rule, not a blackhole of the victim.
        var config = Config(exporter.Data.FullName, lab, detection: "\"DefaultCapacityBps\": 100e9,");
        await using var collector = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", config);
        await collector.WaitForCalibratedAsync();
        Flood("203.0.113.10", on: true);
        await Eventually.Until(() => lab.FlowSpec().ContainsKey(FlowSpecKey) ? "announced" : null, "the FlowSpec route", pollMilliseconds: 20);
        await Eventually.Until(() => collector.Output.Contains("RTBH waits until the flood fills 50", StringComparison.Ordinal) ? "said" : null, "the refusal of RTBH in the log");

        Assert.Empty(lab.Unicast());
        var actions = await Get(collector, "/api/mitigations");
        Assert.Equal(["flowspec"], actions.Select(a => a.GetProperty("kind").GetString()));
        var incident = (await Get(collector, "/api/incidents?open=true")).Single(i => i.GetProperty("keyKind").GetString() == "destination");
        Assert.Equal(100e9, incident.GetProperty("capacityBps").GetDouble());
    }

    [Fact]
    public async Task ExaBgp_RestartAfterKill9OffOrAllowlisted_WithdrawsWhatIsAnnounced()
    {
        BgpLab.RequireAvailable();
        using var lab = BgpLab.Start();
        await using var exporter = new ExporterRun("flowcollector-exabgp-", Traffic);
        var on = Config(exporter.Data.FullName, lab);
        var off = Config(exporter.Data.FullName, lab, name: "off.json", enabled: false);
        var allowlisted = Config(exporter.Data.FullName, lab, """ "Allowlist": [ "203.0.113.10/32" ], """, name: "allowlisted.json");

        // 24,000 pps: over the floors a collector that has just started judges by, so each restart sees the attack.
        _reflectorPps = 3_000;

        // The flood is announced; the collector dies; an operator restarts it with mitigation off.
        await using (var first = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", on))
        {
            await first.WaitForCalibratedAsync();
            Flood("203.0.113.10", on: true);
            await Eventually.Until(() => lab.FlowSpec().ContainsKey(FlowSpecKey) && lab.Unicast().ContainsKey("203.0.113.10/32") ? "announced" : null, "the announcements", pollMilliseconds: 20);
            await first.KillHardAsync();
        }

        await using (var withOff = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", off))
        {
            await Eventually.Until(() => lab.FlowSpec().Count == 0 && lab.Unicast().Count == 0 ? "gone" : null, "the withdrawals with mitigation off", pollMilliseconds: 20);
            Assert.Empty(await Get(withOff, "/api/mitigations?active=true"));
            Assert.All(await Get(withOff, "/api/mitigations"), a => Assert.Equal("mitigation is off (Mitigation:Enabled is false)", a.GetProperty("error").GetString()));
            Assert.Equal(0, await withOff.TerminateAsync());
        }

        // Announced again by a collector with mitigation on, which dies too; the operator now allowlists the victim.
        await using (var second = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", on))
        {
            await Eventually.Until(() => lab.FlowSpec().ContainsKey(FlowSpecKey) && lab.Unicast().ContainsKey("203.0.113.10/32") ? "announced" : null, "the announcements again", pollMilliseconds: 20);
            await second.KillHardAsync();
        }

        await using var restarted = await CollectorProcess.StartAsync(exporter.Data, exporter.Port, "--config", allowlisted);
        await Eventually.Until(() => lab.FlowSpec().Count == 0 && lab.Unicast().Count == 0 ? "gone" : null, "the withdrawals for the allowlisted victim", pollMilliseconds: 20);
        Assert.Contains("overlaps the allowlisted 203.0.113.10/32", restarted.Output, StringComparison.Ordinal);

        // The relay has reconnected and the attack goes on under the same incident: nothing is announced again.
        await Eventually.Until(async () => (await Get(restarted, "/api/incidents?open=true")).Any(i => i.GetProperty("keyKind").GetString() == "destination") ? "open" : null, "the incident going on");
        await Eventually.Holds(() => Task.FromResult(lab.FlowSpec().Count == 0 && lab.Unicast().Count == 0), "nothing announced again", 4);
        Assert.Empty(await Get(restarted, "/api/mitigations?active=true"));
    }

    [Fact]
    public async Task ExaBgp_DryRun_RecordsAndDoesNothing()
    {
        await using var exporter = new ExporterRun("flowcollector-dry-", Traffic);
        var (data, port) = (exporter.Data, exporter.Port);
        var config = Path.Combine(data.FullName, "flowcollector.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
              "ProcNetDev": { "Mode": "off" },
              "Detection": { "LearningSeconds": 3, "CooldownSeconds": 3 },
              "Mitigation": {
                "Enabled": true, "DryRun": true, "WithdrawGraceSeconds": 1,
                "Nftables": { "Table": "flowcollector_dry_{{port}}" },
                "Policy": { "Low": [ "nftables", "flowspec" ], "Medium": [ "nftables", "flowspec" ], "High": [ "nftables", "flowspec" ], "Critical": [ "nftables", "flowspec" ] },
                "ExaBgp": { "Socket": "{{Path.Combine(data.FullName, "exabgp.sock")}}" }
              }
            }
            """);
        await using var collector = await CollectorProcess.StartAsync(data, port, "--config", config);
        await collector.WaitForCalibratedAsync();
        Flood("203.0.113.10", on: true);
        var actions = await Eventually.Until(async () => await Get(collector, "/api/mitigations") is { Count: 2 } list ? list : null, "two planned actions");

        Assert.All(actions, a => Assert.Equal("dry-run", a.GetProperty("state").GetString()));
        Assert.All(actions, a => Assert.True(a.GetProperty("dryRun").GetBoolean()));
        Assert.Contains(actions, a => a.GetProperty("command").GetString()!.StartsWith("announce flow route { match { destination 203.0.113.10/32; protocol udp; source-port =53; }", StringComparison.Ordinal));
        Assert.Contains("dry run: mitigation", collector.Output, StringComparison.Ordinal);
        if (File.Exists("/usr/sbin/nft"))
        {
            using var nft = Process.Start(new ProcessStartInfo("nft", $"list table inet flowcollector_dry_{port}") { RedirectStandardError = true, RedirectStandardOutput = true })!;
            await nft.WaitForExitAsync();
            Assert.NotEqual(0, nft.ExitCode);
        }
    }

    private static async Task<List<JsonElement>> Get(CollectorProcess collector, string path)
    {
        using var document = JsonDocument.Parse(await collector.GetAsync(path));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }
}
