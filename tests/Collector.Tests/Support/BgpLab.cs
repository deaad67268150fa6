using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>
/// A real GoBGP (AS 65001 on 127.0.0.1, FlowSpec and unicast for IPv4 and IPv6) peered on loopback with a real
/// ExaBGP (AS 65002 on 127.0.0.2) whose API process is <c>flowcollector exabgp-relay</c>, relaying to the socket
/// the collector under test listens on. Ports are free ones; both daemons are killed when disposed.
/// </summary>
internal sealed class BgpLab : IDisposable
{
    private readonly Process _gobgpd;
    private readonly Process _exabgp;

    private BgpLab(string directory, int apiPort, Process gobgpd, Process exabgp)
    {
        Directory = directory;
        ApiPort = apiPort;
        _gobgpd = gobgpd;
        _exabgp = exabgp;
    }

    public string Directory { get; }

    public int ApiPort { get; }

    public string Socket => Path.Combine(Directory, "exabgp.sock");

    public static void RequireAvailable()
    {
        Flowcollector.Require(File.Exists("/usr/bin/gobgpd") || File.Exists("/usr/sbin/gobgpd"), "gobgpd is not installed (apt-get install gobgpd)");
        Flowcollector.Require(File.Exists("/usr/sbin/exabgp") || File.Exists("/usr/bin/exabgp"), "exabgp is not installed (apt-get install exabgp)");
        Flowcollector.Require(Environment.UserName == "root", "ExaBGP binds 127.0.0.2 and runs as root here");
    }

    /// <summary>A directory for the lab (and the socket path) before it starts, so a collector can be told it first.</summary>
    public static string NewDirectory() => System.IO.Directory.CreateTempSubdirectory("flowcollector-bgp-").FullName;

    public static BgpLab Start(string? existingDirectory = null)
    {
        var directory = existingDirectory ?? NewDirectory();
        var bgpPort = CollectorProcess.FreeTcpPort();
        var apiPort = CollectorProcess.FreeTcpPort();
        File.WriteAllText(Path.Combine(directory, "gobgpd.toml"), string.Create(CultureInfo.InvariantCulture, $$"""
            [global.config]
              as = 65001
              router-id = "127.0.0.1"
              port = {{bgpPort}}
              local-address-list = ["127.0.0.1"]
            [[neighbors]]
              [neighbors.config]
                neighbor-address = "127.0.0.2"
                peer-as = 65002
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "ipv4-unicast"
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "ipv4-flowspec"
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "ipv6-unicast"
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "ipv6-flowspec"
            """));
        File.WriteAllText(Path.Combine(directory, "exabgp.conf"), $$"""
            process flowcollector {
              run /usr/bin/dotnet {{Path.Combine(AppContext.BaseDirectory, "flowcollector.dll")}} exabgp-relay --socket {{Path.Combine(directory, "exabgp.sock")}};
              encoder text;
            }
            neighbor 127.0.0.1 {
              router-id 127.0.0.2;
              local-address 127.0.0.2;
              local-as 65002;
              peer-as 65001;
              family { ipv4 unicast; ipv4 flow; ipv6 unicast; ipv6 flow; }
              api { processes [ flowcollector ]; }
            }
            """);
        var gobgpd = Daemon.Launch("gobgpd", directory, null, "-f", Path.Combine(directory, "gobgpd.toml"), "--api-hosts", $"127.0.0.1:{apiPort}", "-p");
        var exabgp = Daemon.Launch("exabgp", directory, new Dictionary<string, string>
        {
            ["exabgp.tcp.port"] = bgpPort.ToString(CultureInfo.InvariantCulture),
            ["exabgp.tcp.bind"] = string.Empty,
            ["exabgp.daemon.user"] = "root",
            ["exabgp.log.destination"] = "stdout",
        }, Path.Combine(directory, "exabgp.conf"));
        var lab = new BgpLab(directory, apiPort, gobgpd, exabgp);
        if (!Eventually.Within(() => Task.FromResult(lab.Gobgp("neighbor").Contains("Establ", StringComparison.Ordinal)), 30, 200).GetAwaiter().GetResult())
        {
            lab.Dispose();
            Assert.Fail("ExaBGP and GoBGP did not establish their session within 30 s");
        }

        return lab;
    }

    /// <summary>FlowSpec routes in GoBGP's RIB: the text of each NLRI and the traffic rate of its action (0 = discard).</summary>
    public Dictionary<string, double?> FlowSpec(string family = "ipv4-flowspec")
    {
        var routes = new Dictionary<string, double?>(StringComparer.Ordinal);
        var json = Gobgp("global", "rib", "-a", family, "-j");
        if (json.Trim().Length == 0 || json.Trim() == "null")
        {
            return routes;
        }

        using var document = JsonDocument.Parse(json);
        foreach (var route in document.RootElement.EnumerateObject())
        {
            double? rate = null;
            foreach (var attribute in route.Value[0].GetProperty("attrs").EnumerateArray())
            {
                if (attribute.GetProperty("type").GetInt32() == 16)
                {
                    foreach (var community in attribute.GetProperty("value").EnumerateArray())
                    {
                        if (community.TryGetProperty("rate", out var value))
                        {
                            rate = value.GetDouble();
                        }
                    }
                }
            }

            routes[route.Name] = rate;
        }

        return routes;
    }

    /// <summary>Unicast routes in GoBGP's RIB with their next hop and communities (as 32-bit numbers).</summary>
    public Dictionary<string, (string NextHop, uint[] Communities)> Unicast(string family = "ipv4")
    {
        var routes = new Dictionary<string, (string, uint[])>(StringComparer.Ordinal);
        var json = Gobgp("global", "rib", "-a", family, "-j");
        if (json.Trim().Length == 0 || json.Trim() == "null")
        {
            return routes;
        }

        using var document = JsonDocument.Parse(json);
        foreach (var route in document.RootElement.EnumerateObject())
        {
            var nextHop = string.Empty;
            uint[] communities = [];
            foreach (var attribute in route.Value[0].GetProperty("attrs").EnumerateArray())
            {
                switch (attribute.GetProperty("type").GetInt32())
                {
                    case 3:
                        nextHop = attribute.GetProperty("nexthop").GetString() ?? string.Empty;
                        break;
                    case 8:
                        communities = attribute.GetProperty("communities").EnumerateArray().Select(c => c.GetUInt32()).ToArray();
                        break;
                }
            }

            routes[route.Name] = (nextHop, communities);
        }

        return routes;
    }

    public string Gobgp(params string[] arguments)
    {
        var start = new ProcessStartInfo("gobgp") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(ApiPort.ToString(CultureInfo.InvariantCulture));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return text;
    }

    public void Dispose()
    {
        foreach (var process in new[] { _exabgp, _gobgpd })
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
