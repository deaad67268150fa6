using System.Text.Json;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// Router mode: the collector reads /proc/net/dev inside a network namespace while the peer namespace sends a known
/// packet rate over the veth pair between them; /api/interfaces must report that rate.
/// </summary>
public sealed class ProcNetDevNamespaceTests
{
    private const int PacketsPerSecond = 400;

    [Fact]
    public async Task Run_InANamespace_ReportsTheRateArrivingOnTheVeth()
    {
        NetworkNamespaces.RequireAvailable();
        using var namespaces = NetworkNamespaces.Create();
        var data = Directory.CreateTempSubdirectory("flowcollector-netns-");
        using var collector = NetworkNamespaces.Start(
            namespaces.First,
            "dotnet", Path.Combine(AppContext.BaseDirectory, "flowcollector.dll"), "run", "--http", "127.0.0.1:9750", "--data-dir", data.FullName,
            "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0", "--set", "ProcNetDev:Mode=on");
        try
        {
            // Paced against one start time so the rate holds whatever the scheduler does.
            var sender = Task.Run(() => NetworkNamespaces.Run(
                namespaces.Second,
                "/usr/bin/python3", "-c",
                "import socket, time\n" +
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" +
                $"rate, seconds = {PacketsPerSecond}, 10\n" +
                "start = time.monotonic()\n" +
                "for i in range(rate * seconds):\n" +
                "    delay = start + i / rate - time.monotonic()\n" +
                "    if delay > 0: time.sleep(delay)\n" +
                "    s.sendto(b'x' * 500, ('192.0.2.1', 9))\n"));

            // Once the veth's rate shows, two more whole seconds of it are closed before it is read.
            await Eventually.Until(() => VethIn(Get(namespaces.First, "/api/interfaces")) is { } veth && veth.GetProperty("pps").GetDouble() > 0 ? "rate" : null, "the veth's rate", seconds: 9);
            var shown = LastSecond(Get(namespaces.First, "/healthz"));
            await Eventually.True(() => Task.FromResult(LastSecond(Get(namespaces.First, "/healthz")) >= shown + 2), "two more seconds closed", seconds: 5);
            var json = Get(namespaces.First, "/api/interfaces")!;
            await sender;

            using var interfaces = JsonDocument.Parse(json);
            var veth = interfaces.RootElement.EnumerateArray().Single(i =>
                i.GetProperty("interface").GetString() == NetworkNamespaces.FirstInterface && i.GetProperty("direction").GetString() == "in");
            Assert.Equal("procnetdev", veth.GetProperty("source").GetString());
            Assert.Equal(JsonValueKind.Null, veth.GetProperty("exporter").ValueKind);
            Assert.InRange(veth.GetProperty("pps").GetDouble(), PacketsPerSecond * 0.9, PacketsPerSecond * 1.1);

            // /proc/net/dev counts link-layer bytes: Ethernet 14 + IPv4 20 + UDP 8 + 500.
            Assert.InRange(veth.GetProperty("bps").GetDouble(), PacketsPerSecond * 542 * 8 * 0.9, PacketsPerSecond * 542 * 8 * 1.1);
            Assert.DoesNotContain(interfaces.RootElement.EnumerateArray(), i => i.GetProperty("interface").GetString() == "lo");
        }
        finally
        {
            collector.Kill(entireProcessTree: true);
            await collector.WaitForExitAsync();
            data.Delete(recursive: true);
        }
    }

    /// <summary>A page of the collector's HTTP API inside the namespace; null while it does not answer yet.</summary>
    private static string? Get(string space, string path)
    {
        try
        {
            return NetworkNamespaces.Run(
                space, "/usr/bin/python3", "-c",
                $"import urllib.request, urllib.error\ntry:\n    r = urllib.request.urlopen('http://127.0.0.1:9750{path}')\nexcept urllib.error.HTTPError as e:\n    r = e\nprint(r.read().decode())");
        }
        catch (Xunit.Sdk.XunitException)
        {
            return null;
        }
    }

    private static JsonElement? VethIn(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var interfaces = JsonDocument.Parse(json);
        foreach (var i in interfaces.RootElement.EnumerateArray())
        {
            if (i.GetProperty("interface").GetString() == NetworkNamespaces.FirstInterface && i.GetProperty("direction").GetString() == "in")
            {
                return i.Clone();
            }
        }

        return null;
    }

    private static long LastSecond(string? health) => health is null ? 0 : JsonDocument.Parse(health).RootElement.GetProperty("lastSecond").GetInt64();
}
