using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowCollector.Decoders;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Fleet;
using NATS.Client.Core;
using NATS.Client.JetStream;

// Simulated nodes: each publishes, once a second, a summary of the same destinations (an anycast network's view)
// into a running fleet service, as a node's publisher would; then an attack spread evenly over all of them. Reads
// the fleet's lag and backlog each second, its CPU time over the run, and how long the attack took to become a
// fleet incident (from the start of the first second with attack traffic). Usage:
//   fleet-load --nats URL --fleet http://127.0.0.1:9751 --fleet-pid PID [--nats-pid PID] [--nodes 50] [--keys 1000] [--seconds 60]
//              [--attack-after 45] [--attack-pps 100000]
var settings = Arguments(args);
var natsUrl = settings["nats"];
var fleet = new Uri(settings["fleet"]);
var fleetPid = int.Parse(settings["fleet-pid"], CultureInfo.InvariantCulture);
var natsPid = settings.TryGetValue("nats-pid", out var natsText) ? int.Parse(natsText, CultureInfo.InvariantCulture) : 0;
var nodes = Int(settings, "nodes", 50);
var keys = Int(settings, "keys", 1000);
var seconds = Int(settings, "seconds", 60);
var attackAfter = Int(settings, "attack-after", 45);
var attackPps = Int(settings, "attack-pps", 100_000);
var victim = NetworkAddress.Parse("2001:db8:ffff::10");

await using var connection = new NatsConnection(new NatsOpts { Url = natsUrl, Name = "fleet-load" });
var js = new NatsJSContext(connection);
using var http = new HttpClient { BaseAddress = fleet, Timeout = TimeSpan.FromSeconds(5) };
var names = Enumerable.Range(1, nodes).Select(i => $"pop{i:D2}").ToArray();
var buffers = names.Select(_ => new byte[SummaryCodec.HeaderSize + (keys * SummaryCodec.MaxEntrySize)]).ToArray();
var entries = new SummaryEntry[keys];
var lags = new List<double>();
var backlog = new List<double>();
var published = 0L;
var encodeTicks = 0L;
DateTimeOffset? attackStart = null;
double? detectedAfter = null;

// Once the attack has started, the fleet's API is asked every 100 ms whether it has opened the incident.
using var polling = new CancellationTokenSource();
var watcher = Task.Run(async () =>
{
    while (!polling.IsCancellationRequested && detectedAfter is null)
    {
        if (attackStart is { } began && await HasIncident(http, victim))
        {
            detectedAfter = (DateTimeOffset.UtcNow - began).TotalSeconds;
        }

        await Task.Delay(100, CancellationToken.None);
    }
});

Console.WriteLine($"{nodes} nodes x {keys} summaries/s for {seconds} s; attack of {attackPps} packets/s spread over all nodes after {attackAfter} s");
var cpuBefore = CpuSeconds(fleetPid);
var natsBefore = natsPid > 0 ? CpuSeconds(natsPid) : 0;
var ownBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
var wallBefore = Stopwatch.GetTimestamp();
var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1;
for (var now = start; now < start + seconds; now++)
{
    // As a node does: at the start of each second, the summary of the second that just closed.
    await Task.Delay(Math.Max(0, (int)((now * 1000) - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())));
    var s = now - 1;
    var attacking = now - start >= attackAfter;
    attackStart ??= attacking ? DateTimeOffset.FromUnixTimeSeconds(s) : null;
    var sends = new Task[nodes];
    for (var n = 0; n < nodes; n++)
    {
        var encoding = Stopwatch.GetTimestamp();
        Fill(entries, n, attacking);
        var length = SummaryCodec.WritePart(buffers[n], s, now * 1000, entries, cut: 0, part: 0);
        encodeTicks += Stopwatch.GetTimestamp() - encoding;
        var payload = buffers[n].AsMemory(0, length);
        var id = $"{names[n]}.{s}.0";
        sends[n] = js.PublishAsync($"flowcollector.summaries.{names[n]}", payload, opts: new NatsJSPubOpts { MsgId = id }).AsTask();
    }

    await Task.WhenAll(sends);
    published += nodes;

    // After the first 10 s (the consumers settle), the fleet's own view of how far behind it is.
    var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    if (now - start >= 10)
    {
        lags.Add(Metric(metrics, "flowcollector_fleet_summary_lag_seconds"));
        backlog.Add(Metric(metrics, "flowcollector_fleet_consumer_pending_messages{stream=\"summaries\"}"));
    }
}

var cpu = CpuSeconds(fleetPid) - cpuBefore;
var natsCpu = natsPid > 0 ? CpuSeconds(natsPid) - natsBefore : double.NaN;
var ownCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - ownBefore;
var wall = Stopwatch.GetElapsedTime(wallBefore).TotalSeconds;
for (var wait = 0; detectedAfter is null && wait < 100; wait++)
{
    await Task.Delay(100);
}

await polling.CancelAsync();
await watcher;

await Task.Delay(1500); // the last second's summaries are consumed before the totals are read
var finalMetrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
lags.Sort();
var result = new Dictionary<string, object>
{
    ["nodes"] = nodes,
    ["summariesPerNodeSecond"] = keys,
    ["seconds"] = seconds,
    ["published"] = published,
    ["entriesAdded"] = Metric(finalMetrics, "flowcollector_fleet_summary_entries_total{outcome=\"added\"}"),
    ["entriesNotAdded"] = finalMetrics.Split('\n').Where(l => l.StartsWith("flowcollector_fleet_summary_entries_total{", StringComparison.Ordinal) && !l.Contains("\"added\"", StringComparison.Ordinal)).ToArray(),
    ["lagP50Seconds"] = lags.Count > 0 ? lags[lags.Count / 2] : double.NaN,
    ["lagMaxSeconds"] = lags.Count > 0 ? lags[^1] : double.NaN,
    ["pendingMax"] = backlog.Count > 0 ? backlog.Max() : double.NaN,
    ["fleetCpuSeconds"] = Math.Round(cpu, 2),
    ["fleetCpuShareOfOneCore"] = Math.Round(cpu / wall, 3),
    ["fleetCpuMicrosecondsPerNodeSecond"] = Math.Round(cpu / (nodes * wall) * 1e6, 1),
    ["natsServerCpuShareOfOneCore"] = Math.Round(natsCpu / wall, 3),
    ["loadGeneratorCpuShareOfOneCore"] = Math.Round(ownCpu / wall, 3),
    ["fleetRssMiB"] = Math.Round(RssKiB(fleetPid) / 1024.0, 1),
    ["encodeMicrosecondsPerSummary"] = Math.Round(Stopwatch.GetElapsedTime(0, encodeTicks).TotalMicroseconds / published, 1),
    ["attackToFleetIncidentSeconds"] = detectedAfter is { } after ? Math.Round(after, 2) : double.NaN,
};
Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
return detectedAfter is null ? 1 : 0;

// Every node sees the same destinations at a small steady rate; under attack, the victim gets an even share.
void Fill(SummaryEntry[] target, int node, bool attacking)
{
    for (var k = 0; k < target.Length; k++)
    {
        ref var entry = ref target[k];
        entry = default;
        entry.Kind = KeyKind.Destination;
        entry.Address = k == 0 ? victim : NetworkAddress.FromIPv6(0x2001_0db8_0000_0000UL | (uint)(k >> 8), (uint)(k & 0xff) + 1UL);
        entry.PrefixLength = 128;
        var packets = 8.0 + ((k + node) % 5);
        if (k == 0 && attacking)
        {
            packets += attackPps / (double)nodes;
            entry.SourcePorts.Add(TrafficSample.PortKey(17, 53), attackPps / (double)nodes);
        }

        entry.Counts.Packets = packets;
        entry.Counts.UdpPackets = packets;
        entry.Counts.Bytes = packets * 1_100;
        entry.Counts.UdpBytes = packets * 1_100;
        entry.Counts.Flows = 2;
        entry.SourcePorts.Add(TrafficSample.PortKey(17, 443), 8);
    }
}

static async Task<bool> HasIncident(HttpClient http, NetworkAddress victim)
{
    using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/incidents?node=fleet&open=true", UriKind.Relative)));
    return document.RootElement.EnumerateArray().Any(e => e.TryGetProperty("address", out var address) && address.GetString() == victim.ToString());
}

static double Metric(string text, string series)
{
    foreach (var line in text.Split('\n'))
    {
        if (line.StartsWith(series + " ", StringComparison.Ordinal))
        {
            return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
        }
    }

    return 0;
}

static double CpuSeconds(int pid)
{
    var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

static long RssKiB(int pid) =>
    long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

static Dictionary<string, string> Arguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    return result;
}

static int Int(Dictionary<string, string> settings, string name, int fallback) =>
    settings.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;
