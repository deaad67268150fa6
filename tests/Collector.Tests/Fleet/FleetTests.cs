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

    private static async Task<List<JsonElement>> Incidents(CollectorProcess fleet, string query) =>
        [.. JsonDocument.Parse(await fleet.GetAsync("/api/incidents?" + query)).RootElement.EnumerateArray()];
}
