using System.Text.Json;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Fleet;

/// <summary>
/// The fleet with real parts: nats-server with JetStream, PostgreSQL, four collector processes as nodes fed NetFlow
/// on loopback, and <c>flowcollector fleet</c>.
/// </summary>
public sealed class FleetTests
{
    private const string Victim = "203.0.113.10";
    private const string LocalVictim = "203.0.113.20";

    /// <summary>
    /// The same fixed thresholds for nodes and fleet on the monitored prefix (3,000 packets/s; the other metrics out of
    /// reach), and on the nodes' input interface 1 (5,000 packets/s): a node that sees a quarter of a 6,800 packets/s
    /// flood stays under them, the sum does not.
    /// </summary>
    private static readonly string[] Thresholds =
    [
        "--monitor", "203.0.113.0/24",
        "--set", "Detection:Overrides:0:Prefix=203.0.113.0/24",
        "--set", "Detection:Overrides:0:Fixed:Pps=3000",
        "--set", "Detection:Overrides:0:Fixed:Bps=40000000",
        "--set", "Detection:Overrides:0:Fixed:Flows=1000000",
        "--set", "Detection:Overrides:0:Fixed:UdpPps=3000",
        "--set", "Detection:Overrides:0:Fixed:SynPps=1000000",
        "--set", "Detection:Overrides:0:Fixed:IcmpPps=1000000",
        "--set", "Detection:Overrides:0:Fixed:FragmentPps=1000000",
        "--set", "Detection:Overrides:1:Interface=1",
        "--set", "Detection:Overrides:1:Fixed:Pps=5000",
        "--set", "Detection:Overrides:1:Fixed:Bps=1000000000",
        "--set", "Detection:Overrides:1:Fixed:Flows=1000000",
        "--set", "Detection:Overrides:1:Fixed:UdpPps=5000",
        "--set", "Detection:Overrides:1:Fixed:SynPps=1000000",
        "--set", "Detection:Overrides:1:Fixed:IcmpPps=1000000",
        "--set", "Detection:Overrides:1:Fixed:FragmentPps=1000000",
    ];

    /// <summary>DNS amplification from eight reflectors at <paramref name="perReflector"/> packets/s each, plus a host's usual traffic.</summary>
    private static List<NetFlowV5Sender.Flow> Amplification(string victim, double perReflector)
    {
        var flows = NetFlowV5Sender.DnsAmplificationOn(victim, flooding: false);
        for (var i = 0; i < 8 && perReflector > 0; i++)
        {
            flows.Add(new NetFlowV5Sender.Flow($"192.0.2.{100 + i}", victim, 17, 53, (ushort)(20_000 + i), perReflector, 1_200));
        }

        return flows;
    }

    [Fact]
    public async Task SpreadAttack_OpensOneFleetIncidentNamingTheFourNodes_AndANodesOwnIncidentReachesPostgresAndTheApi()
    {
        await using var lab = await FleetLab.StartAsync();
        await using var fleet = await CollectorProcess.StartFleetAsync(null, [.. Thresholds, .. lab.Settings("--set", "Fleet:LateSeconds=3")]);
        var nodes = new List<CollectorProcess>();
        var senders = new List<NetFlowV5Sender>();
        using var stop = new CancellationTokenSource();
        var sending = new List<Task>();
        var spread = false;
        var local = false;
        try
        {
            for (var i = 1; i <= 4; i++)
            {
                var node = await CollectorProcess.StartAsync([.. Thresholds, "--node", $"n{i}", "--set", $"Fleet:Nats:Url={lab.NatsUrl}"]);
                nodes.Add(node);
                var sender = new NetFlowV5Sender(node.NetFlowPort);
                senders.Add(sender);
                var first = i == 1;
                sending.Add(sender.RunAsync(
                    () => [.. Amplification(Victim, spread ? 190 : 0), .. first && local ? Amplification(LocalVictim, 800) : []],
                    stop.Token));
            }

            await Eventually.True(async () => (await fleet.MetricAsync("flowcollector_fleet_nodes_reporting")) == 4, "the fleet hears all four nodes", seconds: 30);
            spread = true;

            // Each node sees 1,700 packets/s (under 3,000); the sum is 6,800.
            JsonElement incident = default;
            await Eventually.True(
                async () => (incident = (await Incidents(fleet, "node=fleet&open=true")).FirstOrDefault(e => e.GetProperty("address").GetString() == Victim)).ValueKind == JsonValueKind.Object,
                "a fleet incident on the spread attack's victim",
                seconds: 60);
            Assert.Equal("fleet", incident.GetProperty("node").GetString());
            Assert.Equal("dns_amplification", incident.GetProperty("attackType").GetString());
            Assert.Equal(["n1", "n2", "n3", "n4"], incident.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()).Order(StringComparer.Ordinal));
            Assert.True(incident.GetProperty("peakPps").GetDouble() > 3000, incident.ToString());
            foreach (var node in nodes)
            {
                Assert.Empty(JsonDocument.Parse(await node.GetAsync("/api/incidents")).RootElement.EnumerateArray());
            }

            Assert.Single(await Incidents(fleet, "node=fleet"));

            // Now node n1 alone takes a flood over its own thresholds: its incidents are its own, in PostgreSQL and the API.
            local = true;
            await Eventually.True(async () => (await Incidents(fleet, "node=n1&interface=1&open=true")).Count == 1, "n1's interface incident in the fleet API", seconds: 60);
            await Eventually.True(
                async () => (await Incidents(fleet, "node=n1&type=dns_amplification&open=true")).Any(e => e.TryGetProperty("address", out var a) && a.GetString() == LocalVictim),
                "n1's destination incident in the fleet API",
                seconds: 60);
            var own = (await Incidents(fleet, "node=n1&interface=1")).Single();
            Assert.Equal("n1", own.GetProperty("node").GetString());
            Assert.Equal("1", own.GetProperty("interface").GetString());
            Assert.Equal("1", lab.Query($"SELECT count(*) FROM fleet_incidents WHERE node = 'n1' AND address = '{LocalVictim}'"));
            Assert.Empty(await Incidents(fleet, "node=n2"));

            // A node's own incident explains the sums' breach on its victim: no fleet incident there.
            await Task.Delay(TimeSpan.FromSeconds(5));
            Assert.DoesNotContain(await Incidents(fleet, "node=fleet"), e => e.GetProperty("address").GetString() == LocalVictim);

            var listed = JsonDocument.Parse(await fleet.GetAsync("/api/nodes")).RootElement.EnumerateArray().ToList();
            foreach (var name in new[] { "n1", "n2", "n3", "n4" })
            {
                var entry = listed.Single(n => n.GetProperty("node").GetString() == name);
                Assert.False(string.IsNullOrEmpty(entry.GetProperty("version").GetString()));
            }

            Assert.True(listed.Single(n => n.GetProperty("node").GetString() == "n1").GetProperty("openIncidents").GetInt64() >= 2);

            // Filters that do not fit are refused with the reason.
            using var bad = await fleet.Client.GetAsync(new Uri("/api/incidents?type=tsunami", UriKind.Relative));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("not an attack type", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(sending);
            senders.ForEach(s => s.Dispose());
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// kill -9 of the fleet service, of nats-server and of a node, each in the middle of an attack: after each comes
    /// back, the fleet holds every incident the nodes hold, in the state the nodes hold it, once each; while NATS is
    /// down the node goes on detecting on its own.
    /// </summary>
    [Fact]
    public async Task KillNineOfFleetNatsAndNodeMidAttack_LosesNothingAndStoresNothingTwice()
    {
        await using var lab = await FleetLab.StartAsync();
        var fleetData = Directory.CreateTempSubdirectory("flowcollector-fleet-data-");
        var n1Data = Directory.CreateTempSubdirectory("flowcollector-n1-data-");
        var fleet = await CollectorProcess.StartFleetAsync(fleetData, [.. Thresholds, .. lab.Settings()]);
        var n1Port = CollectorProcess.FreeUdpPort();
        string[] n1Arguments = [.. Thresholds, "--node", "n1", "--set", $"Fleet:Nats:Url={lab.NatsUrl}"];
        var n1 = await CollectorProcess.StartAsync(n1Data, n1Port, n1Arguments);
        var n2 = await CollectorProcess.StartAsync([.. Thresholds, "--node", "n2", "--set", $"Fleet:Nats:Url={lab.NatsUrl}"]);
        using var stop = new CancellationTokenSource();
        using var toN1 = new NetFlowV5Sender(n1Port);
        using var toN2 = new NetFlowV5Sender(n2.NetFlowPort);
        var attackN1 = true;
        var attackN2 = false;
        var sending = new[]
        {
            toN1.RunAsync(() => Amplification(Victim, attackN1 ? 800 : 0), stop.Token),
            toN2.RunAsync(() => Amplification(LocalVictim, attackN2 ? 800 : 0), stop.Token),
        };
        try
        {
            // The fleet service dies while n1's incident is open, and n1's attack ends while it is down.
            await Eventually.True(async () => (await Incidents(fleet, "node=n1&open=true")).Count > 0, "n1's incident in the fleet", seconds: 60);
            await fleet.KillHardAsync();
            await fleet.DisposeAsync();
            attackN1 = false;
            await Eventually.True(async () => (await Incidents(n1, "open=true")).Count == 0, "n1's incident closes while the fleet is down", seconds: 60);
            fleet = await CollectorProcess.StartFleetAsync(fleetData, [.. Thresholds, .. lab.Settings()]);
            await SameIncidentsAsync(fleet, n1, "n1");

            // NATS dies while n2 is attacked: n2 detects and closes its incident on its own, and tells the fleet later.
            attackN2 = true;
            await Eventually.True(async () => (await Incidents(n2, "open=true")).Count > 0, "n2's incident opens", seconds: 60);
            await lab.KillNatsAsync();
            await Eventually.True(async () => await n2.MetricAsync("flowcollector_fleet_connected") == 0, "n2 notices NATS is gone", seconds: 30);
            var openedWithoutNats = await n2.MetricAsync("flowcollector_incidents_open");
            Assert.True(openedWithoutNats > 0);
            attackN2 = false;
            await Eventually.True(async () => (await Incidents(n2, "open=true")).Count == 0, "n2's incident closes while NATS is down", seconds: 60);
            Assert.True(await n2.MetricAsync("flowcollector_fleet_buffered_messages") > 0);
            await lab.StartNatsAsync();
            await SameIncidentsAsync(fleet, n2, "n2");
            await Eventually.True(async () => await n2.MetricAsync("flowcollector_fleet_buffered_messages") == 0, "n2's buffer drains", seconds: 30);

            // n1 dies in the middle of a second attack, and is started again on its data while the attack goes on.
            attackN1 = true;
            await Eventually.True(async () => (await Incidents(fleet, "node=n1&open=true")).Count > 0, "n1's second incident in the fleet", seconds: 60);
            await n1.KillHardAsync();
            await n1.DisposeAsync();
            n1 = await CollectorProcess.StartAsync(n1Data, n1Port, n1Arguments);
            await Task.Delay(TimeSpan.FromSeconds(3));
            attackN1 = false;
            await Eventually.True(async () => (await Incidents(n1, "open=true")).Count == 0, "n1's second incident closes after the restart", seconds: 60);
            await SameIncidentsAsync(fleet, n1, "n1");

            Assert.Equal("0", lab.Query("SELECT count(*) FROM (SELECT node, id FROM fleet_incidents GROUP BY node, id HAVING count(*) > 1) twice"));
            Assert.Equal("0", lab.Query("SELECT count(*) FROM fleet_incidents WHERE node = 'fleet'"));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(sending);
            await n1.DisposeAsync();
            await n2.DisposeAsync();
            await fleet.DisposeAsync();
            fleetData.Delete(recursive: true);
            n1Data.Delete(recursive: true);
        }
    }

    /// <summary>When it closed, to the second: the node's store keeps seconds, the event document the instant.</summary>
    private static string ClosedSecond(JsonElement incident) =>
        incident.GetProperty("closedAt").ValueKind == JsonValueKind.String
            ? incident.GetProperty("closedAt").GetDateTimeOffset().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)
            : "open";

    /// <summary>Waits until the fleet holds each of the node's incidents as the node holds it (open or closed, peak), once.</summary>
    private static async Task SameIncidentsAsync(CollectorProcess fleet, CollectorProcess node, string name)
    {
        static string Summary(IEnumerable<JsonElement> incidents) => string.Join("; ", incidents
            .Select(i => $"{i.GetProperty("id").GetInt64()} {i.GetProperty("address").GetString() ?? i.GetProperty("interface").GetString()} closed={ClosedSecond(i)} peak={i.GetProperty("peakPps").GetDouble():F0}")
            .Order(StringComparer.Ordinal));
        var expected = string.Empty;
        var actual = string.Empty;
        var same = await Eventually.Within(
            async () =>
            {
                expected = Summary(await Incidents(node, string.Empty));
                actual = Summary(await Incidents(fleet, $"node={name}"));
                return expected.Length > 0 && expected == actual;
            },
            seconds: 60,
            pollMilliseconds: 500);
        Assert.True(same, $"{name}'s incidents:\n  at the node:  {expected}\n  in the fleet: {actual}");
    }

    private static async Task<List<JsonElement>> Incidents(CollectorProcess fleet, string query) =>
        [.. JsonDocument.Parse(await fleet.GetAsync("/api/incidents?" + query)).RootElement.EnumerateArray()];
}
