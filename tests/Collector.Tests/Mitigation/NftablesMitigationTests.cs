using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Mitigation;

/// <summary>
/// Local drops for real: the collector captures the veth of a network namespace that holds the victim address,
/// a DNS-amplification flood arrives from the peer namespace, and the rule must appear in the collector's own
/// nftables table, drop the flood (its counter) while the victim's other traffic still arrives, and be gone once
/// the flood has stopped. Then kill -9 with a rule installed: the restarted collector removes it.
/// </summary>
public sealed class NftablesMitigationTests(ITestOutputHelper output)
{
    private const string Victim = "203.0.113.10";

    [Fact]
    public async Task Nftables_Flood_IsDroppedByItsRuleWhichGoesWithTheFloodAndAfterKill9()
    {
        RequireTools("/usr/sbin/nft", "nftables");
        using var namespaces = NetworkNamespaces.Create();
        var space = namespaces.First;
        HoldVictim(space);
        var work = Directory.CreateTempSubdirectory("flowcollector-nft-");
        var config = await WriteConfig(work.FullName, """ "WithdrawGraceSeconds": 1 """);
        var data = Path.Combine(work.FullName, "data");
        Process? collector = null;
        Process? receiver = null;
        try
        {
            collector = StartCollector(space, config, data);

            // The victim's other traffic: UDP to port 4500, counted per second by a socket on the victim.
            receiver = NetworkNamespaces.Start(
                space, "/usr/bin/python3", "-u", "-c",
                "import socket, time\n" +
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 4500)); s.settimeout(0.2)\n" +
                "while True:\n" +
                "    try:\n" +
                "        s.recv(2048); print(time.time(), flush=True)\n" +
                "    except socket.timeout:\n" +
                "        pass\n");
            var received = new List<double>();
            receiver.OutputDataReceived += (_, e) =>
            {
                if (double.TryParse(e.Data, CultureInfo.InvariantCulture, out var stamp))
                {
                    lock (received)
                    {
                        received.Add(stamp);
                    }
                }
            };
            receiver.BeginOutputReadLine();

            var traffic = Task.Run(() => SendScenario(namespaces.Second, work.FullName, "first", floodSeconds: 10));
            var rule = await Eventually.Until(() => Rules(space).FirstOrDefault(), "the drop rule", 30);
            Assert.Contains($"ip daddr {Victim} udp sport 53", rule.Text, StringComparison.Ordinal);
            var ruleSeen = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            await Eventually.True(() => Task.FromResult(Rules(space).Single().Packets > 1_000), "the rule dropping over 1,000 packets");
            // The victim's other traffic goes on arriving in the four seconds after the rule showed.
            var passed = 0.0;
            await Eventually.Within(() =>
            {
                lock (received)
                {
                    passed = received.Count(t => t > ruleSeen && t < ruleSeen + 4);
                }

                return Task.FromResult(passed > 50);
            });
            Assert.True(passed > 50, $"only {passed} packets of the victim's other traffic arrived while the flood was dropped");
            await traffic;

            // The flood is over: cool-down (3 s) and grace (1 s) later the rule is gone.
            await Eventually.Until(() => Rules(space).Count == 0 ? "gone" : null, "the rule's removal", 20);
            var actions = Mitigations(data);
            var first = Assert.Single(actions);
            Assert.Equal("nftables", first.GetProperty("kind").GetString());
            Assert.Equal("withdrawn", first.GetProperty("state").GetString());
            Assert.True(first.GetProperty("dropped").GetInt64() > 1_000);
            var incident = Incidents(data).Single(i => i.GetProperty("id").GetInt64() == first.GetProperty("incidentId").GetInt64());
            var toRule = first.GetProperty("appliedAt").GetDateTimeOffset() - incident.GetProperty("openedAt").GetDateTimeOffset();
            output.WriteLine($"incident opened to nftables rule applied: {toRule.TotalMilliseconds:F0} ms");
            Assert.InRange(toRule.TotalMilliseconds, 0, 1_000);

            // Second flood; kill -9 while its rule is in place, and leave a rule of an action nobody knows behind too.
            var second = Task.Run(() => SendScenario(namespaces.Second, work.FullName, "second", floodSeconds: 6));
            await Eventually.Until(() => Rules(space).FirstOrDefault(), "the second drop rule", 30);
            collector.Kill(entireProcessTree: true);
            await collector.WaitForExitAsync();
            NetworkNamespaces.Run(space, "nft", "add", "rule", "inet", "flowcollector", "mitigation", "ip", "daddr", "203.0.113.99", "counter", "drop", "comment", "\"flowcollector action 999 incident 999\"");
            Assert.Equal(2, Rules(space).Count);
            await second;

            collector = StartCollector(space, config, data);
            await Eventually.Until(() => Rules(space).All(r => !r.Text.Contains("203.0.113.99", StringComparison.Ordinal)) ? "gone" : null, "the unknown rule's removal at start-up", 15);
            await Eventually.Until(() => Rules(space).Count == 0 ? "gone" : null, "the killed run's rule's removal", 20);
            Assert.All(Mitigations(data), a => Assert.NotEqual(JsonValueKind.Null, a.GetProperty("withdrawnAt").ValueKind));
        }
        finally
        {
            await Stop(receiver, collector);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Nftables_MultiVectorFlood_GetsOneRulePerVectorEachDroppingItsOwn()
    {
        RequireTools("/usr/sbin/nft", "nftables");
        using var namespaces = NetworkNamespaces.Create();
        var space = namespaces.First;
        HoldVictim(space);
        var work = Directory.CreateTempSubdirectory("flowcollector-nft-vectors-");
        var config = await WriteConfig(work.FullName, """ "WithdrawGraceSeconds": 1 """);
        var data = Path.Combine(work.FullName, "data");
        Process? collector = null;
        try
        {
            collector = StartCollector(space, config, data);

            // DNS amplification (fragmented answers) and a SYN flood on the one host at once.
            var traffic = Task.Run(() => SendScenario(namespaces.Second, work.FullName, "vectors", floodSeconds: 10, flood: "multi_vector"));
            var rules = await Eventually.Until(() => Rules(space) is { Count: 2 } two && two.All(r => r.Packets > 200) ? two : null, "two drop rules, each dropping", 30);
            Assert.Contains(rules, r => r.Text.Contains($"ip daddr {Victim} udp sport 53", StringComparison.Ordinal));
            Assert.Contains(rules, r => r.Text.Contains($"ip daddr {Victim} tcp flags syn / syn,ack", StringComparison.Ordinal));
            var incident = Assert.Single(Incidents(data), i => i.GetProperty("keyKind").GetString() == "destination");
            Assert.Equal("multi_vector", incident.GetProperty("attackType").GetString());
            Assert.Equal(["dns_amplification", "syn_flood"], incident.GetProperty("vectors").EnumerateArray().Select(v => v.GetString()));
            await traffic;

            // Both go with the flood.
            await Eventually.Until(() => Rules(space).Count == 0 ? "gone" : null, "the rules' removal", 20);
            var actions = Mitigations(data);
            Assert.Equal(2, actions.Count);
            Assert.All(actions, a => Assert.Equal("withdrawn", a.GetProperty("state").GetString()));
        }
        finally
        {
            await Stop(collector);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Iptables_Flood_IsDroppedAndTheRuleWithdrawnAtItsLifetime()
    {
        RequireTools("/usr/sbin/iptables", "iptables");
        using var namespaces = NetworkNamespaces.Create();
        var space = namespaces.First;
        HoldVictim(space);
        var work = Directory.CreateTempSubdirectory("flowcollector-iptables-");
        var config = await WriteConfig(work.FullName, """ "MaxLifetimeSeconds": 10, "Nftables": { "Backend": "iptables" } """);
        var data = Path.Combine(work.FullName, "data");
        var collector = StartCollector(space, config, data);
        try
        {
            var traffic = Task.Run(() => SendScenario(namespaces.Second, work.FullName, "flood", floodSeconds: 20));
            var rule = await Eventually.Until(() => IptablesRules(space).FirstOrDefault(), "the iptables rule", 30);
            // The interfaces open incidents of their own (fragmented answers are over an interface's fragment floor): the rule is the destination's.
            Assert.Matches(@"/\* flowcollector action 1 incident \d+ \*/", rule.Text);
            Assert.Contains("udp spt:53", rule.Text, StringComparison.Ordinal);
            var applied = DateTime.UtcNow;
            await Eventually.True(() => Task.FromResult(IptablesRules(space).Single().Packets > 1_000), "the rule dropping over 1,000 packets");

            // The flood goes on, but ten seconds is all a rule may live.
            await Eventually.Until(() => IptablesRules(space).Count == 0 ? "gone" : null, "the rule's removal at its maximum lifetime", 20);
            Assert.InRange((DateTime.UtcNow - applied).TotalSeconds, 8, 15);
            var action = Assert.Single(Mitigations(data));
            Assert.Equal("iptables", action.GetProperty("kind").GetString());
            Assert.Equal("maximum lifetime reached", action.GetProperty("error").GetString());
            Assert.True(Incidents(data).Single(i => i.GetProperty("keyKind").GetString() == "destination").GetProperty("closedAt").ValueKind == JsonValueKind.Null, "the incident is still open");
            await traffic;
        }
        finally
        {
            collector.Kill(entireProcessTree: true);
            await collector.WaitForExitAsync();
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Nftables_RuleOfAKilledRun_GoesOnRestartInDryRunOffOrAllowlisted()
    {
        RequireTools("/usr/sbin/nft", "nftables");
        using var namespaces = NetworkNamespaces.Create();
        var space = namespaces.First;
        HoldVictim(space);
        var work = Directory.CreateTempSubdirectory("flowcollector-nft-restart-");
        var on = await WriteConfig(work.FullName, """ "WithdrawGraceSeconds": 1 """);
        var later = new[]
        {
            (Config: await WriteConfig(work.FullName, """ "DryRun": true """, "dry-run.json"), Reason: "mitigation is a dry run now (Mitigation:DryRun)"),
            (Config: await WriteConfig(work.FullName, """ "WithdrawGraceSeconds": 1 """, "off.json", enabled: false), Reason: "mitigation is off (Mitigation:Enabled is false)"),
            (Config: await WriteConfig(work.FullName, $$""" "Allowlist": [ "{{Victim}}/32" ] """, "allowlisted.json"), Reason: $"the configuration no longer asks for it ({Victim}/32 overlaps the allowlisted {Victim}/32)"),
        };
        var data = Path.Combine(work.FullName, "data");
        Process? collector = null;
        try
        {
            for (var round = 0; round < later.Length; round++)
            {
                // A flood, its rule, and kill -9 while the flood goes on.
                collector = StartCollector(space, on, data);
                var flood = Task.Run(() => SendScenario(namespaces.Second, work.FullName, $"round{round}", floodSeconds: 16));
                await Eventually.Until(() => Rules(space).FirstOrDefault(), $"round {round}: the drop rule", 40);
                collector.Kill(entireProcessTree: true);
                await collector.WaitForExitAsync();

                // The operator restarts it differently: the rule goes at once, and is recorded as withdrawn, and why.
                collector = StartCollector(space, later[round].Config, data);
                await Eventually.Until(() => Rules(space).Count == 0 ? "gone" : null, $"round {round}: the rule's removal", 20);
                var withdrawn = Mitigations(data).Where(a => a.GetProperty("state").GetString() == "withdrawn").Select(a => a.GetProperty("error").GetString()).ToList();
                Assert.Contains(later[round].Reason, withdrawn);
                if (round < 2)
                {
                    // Not acting: the collector's table goes too.
                    await Eventually.Until(() => TableExists(space) ? null : "gone", $"round {round}: the table's removal", 20);
                }

                // The flood goes on while the restarted collector runs: no rule comes back.
                await flood;
                Assert.Empty(Rules(space));
                Assert.DoesNotContain(Mitigations(data), a => a.GetProperty("state").GetString() is "applied" or "pending");
                await Stop(collector);
            }
        }
        finally
        {
            await Stop(collector);
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Nftables_OperatorsTableOfTheSameName_IsRefusedAndLeftAlone()
    {
        NetworkNamespaces.RequireAvailable();
        Flowcollector.Require(File.Exists("/usr/sbin/nft"), "nft is not installed (apt-get install nftables)");
        using var namespaces = NetworkNamespaces.Create();
        var space = namespaces.First;
        NetworkNamespaces.Run(space, "nft", "add table inet flowcollector; add chain inet flowcollector input { type filter hook input priority 0; policy accept; }; add rule inet flowcollector input tcp dport 22 accept");
        var before = NetworkNamespaces.Run(space, "nft", "list", "table", "inet", "flowcollector");
        var work = Directory.CreateTempSubdirectory("flowcollector-nft-foreign-");
        try
        {
            var config = await WriteConfig(work.FullName, """ "WithdrawGraceSeconds": 1 """);
            using var collector = NetworkNamespaces.Start(
                space, "dotnet", Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"), "run", "--config", config, "--data-dir", Path.Combine(work.FullName, "data"),
                "--http", "127.0.0.1:9750", "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0");
            var error = collector.StandardError.ReadToEndAsync();
            collector.StandardOutput.ReadToEnd();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await collector.WaitForExitAsync(deadline.Token);

            Assert.Equal(78, collector.ExitCode);
            Assert.Contains("Mitigation:Nftables:Table: table inet flowcollector exists and is not flowcollector's", await error, StringComparison.Ordinal);
            Assert.Equal(before, NetworkNamespaces.Run(space, "nft", "list", "table", "inet", "flowcollector"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Namespaces, the firewall tool under test, and scapy for the traffic: skipped locally when missing, failed under CI.</summary>
    private static void RequireTools(string tool, string package)
    {
        NetworkNamespaces.RequireAvailable();
        Flowcollector.Require(File.Exists(tool), $"{Path.GetFileName(tool)} is not installed (apt-get install {package})");
        Flowcollector.Require(Directory.Exists("/usr/lib/python3/dist-packages/scapy"), "python3-scapy is not installed");
    }

    /// <summary>Kills what is still running (with its children) and waits for it.</summary>
    private static async Task Stop(params Process?[] processes)
    {
        foreach (var process in processes)
        {
            if (process is not null && !process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static bool TableExists(string space)
    {
        using var process = NetworkNamespaces.Start(space, "nft", "list", "table", "inet", "flowcollector");
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    /// <summary>Our rules in iptables' raw table: the listing line and its packet counter.</summary>
    private static List<Rule> IptablesRules(string space)
    {
        using var process = NetworkNamespaces.Start(space, "iptables", "-w", "-t", "raw", "-L", "FLOWCOLLECTOR", "-v", "-x", "-n");
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return text.Split('\n')
            .Where(l => l.Contains("flowcollector action", StringComparison.Ordinal))
            .Select(l => new Rule(l.Trim(), long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture)))
            .ToList();
    }

    /// <summary>The victim lives in the collector's namespace, on the veth whose MAC address the scenario frames carry.</summary>
    private static void HoldVictim(string space)
    {
        NetworkNamespaces.Run(space, "ip", "link", "set", NetworkNamespaces.FirstInterface, "address", "02:00:00:00:00:01");
        NetworkNamespaces.Run(space, "ip", "addr", "add", Victim + "/32", "dev", NetworkNamespaces.FirstInterface);
    }

    /// <summary>
    /// Capture on the veth, quick learning and cool-down, local drops for every severity; the victim is this
    /// namespace's own address, so local addresses are not allowlisted here. <paramref name="mitigation"/> adds settings.
    /// </summary>
    private static async Task<string> WriteConfig(string directory, string mitigation, string name = "flowcollector.json", bool enabled = true)
    {
        var config = Path.Combine(directory, name);
        await File.WriteAllTextAsync(config, $$"""
            {
              "Monitor": { "Prefixes": [ "203.0.113.0/24" ] },
              "Capture": { "Interfaces": [ "{{NetworkNamespaces.FirstInterface}}" ] },
              "ProcNetDev": { "Mode": "off" },
              "Detection": { "LearningSeconds": 3, "CooldownSeconds": 3 },
              "Mitigation": {
                "Enabled": {{(enabled ? "true" : "false")}}, "AllowlistLocalAddresses": false, {{mitigation}},
                "Policy": { "Low": [ "nftables" ], "Medium": [ "nftables" ], "High": [ "nftables" ], "Critical": [ "nftables" ] }
              }
            }
            """);
        return config;
    }

    private static Process StartCollector(string space, string config, string data)
    {
        var process = NetworkNamespaces.Start(
            space, "dotnet", Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"), "run", "--config", config, "--data-dir", data,
            "--http", "127.0.0.1:9750", "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void SendScenario(string space, string work, string name, int floodSeconds, string flood = "dns_amplification") => NetworkNamespaces.Run(
        space, "/usr/bin/python3", Path.Combine(Flowcollector.RepositoryRoot, "scripts", "scenario", "traffic.py"),
        "--iface", NetworkNamespaces.SecondInterface, "--timeline", Path.Combine(work, name + ".json"), "--normal-seconds", "6",
        "--flood-seconds", floodSeconds.ToString(CultureInfo.InvariantCulture), "--flood", flood, "--flood-pps", "3000", "--victim", Victim);

    private sealed record Rule(string Text, long Packets);

    /// <summary>The rules in the collector's chain (empty when the table is not there).</summary>
    private static List<Rule> Rules(string space)
    {
        using var process = NetworkNamespaces.Start(space, "nft", "-j", "list", "chain", "inet", "flowcollector", "mitigation");
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            return [];
        }

        using var listing = NetworkNamespaces.Start(space, "nft", "list", "chain", "inet", "flowcollector", "mitigation");
        var lines = listing.StandardOutput.ReadToEnd().Split('\n').Where(l => l.Contains("comment", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
        listing.WaitForExit();
        using var document = JsonDocument.Parse(text);
        var counters = document.RootElement.GetProperty("nftables").EnumerateArray()
            .Where(e => e.TryGetProperty("rule", out _))
            .Select(e => e.GetProperty("rule").GetProperty("expr").EnumerateArray().Where(x => x.TryGetProperty("counter", out _)).Select(x => x.GetProperty("counter").GetProperty("packets").GetInt64()).FirstOrDefault())
            .ToList();
        return lines.Zip(counters, (line, packets) => new Rule(line, packets)).ToList();
    }

    private static List<JsonElement> Mitigations(string data) => Lines(Flowcollector.Run("mitigations", "--format", "jsonl", "--data-dir", data));

    private static List<JsonElement> Incidents(string data) => Lines(Flowcollector.Run("incidents", "--format", "jsonl", "--data-dir", data));

    private static List<JsonElement> Lines((int ExitCode, string Output, string Error) result)
    {
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }
}
