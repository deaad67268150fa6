using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using FlowCollector.Collector.Tests.Detection;
using FlowCollector.Collector.Tests.Support;
using Flow = FlowCollector.Collector.Tests.Detection.NetFlowV5Sender.Flow;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// A real full disk: the collector's data directory is a small tmpfs in a mount namespace of its own, filled up by
/// the test while incidents open. Nothing may be lost: the writes are held and retried, /healthz is degraded and the
/// log says why, and once there is room again every incident is in the database.
/// </summary>
public sealed class FullDiskTests
{
    private static readonly string[] Victims = [.. Enumerable.Range(10, 18).Select(i => $"203.0.113.{i}")];

    private static IReadOnlyList<Flow> Attack() =>
    [
        .. Victims.SelectMany(v => Enumerable.Range(0, 2).Select(i => new Flow($"192.0.2.{100 + i}", v, 17, 53, (ushort)(20_000 + i), 15_000, 1_200))),
    ];

    [Fact]
    public async Task Run_FullDisk_HoldsIncidentsDegradesHealthAndLandsThemLater()
    {
        Flowcollector.Require(Environment.UserName == "root", "mounting a tmpfs needs root");
        Flowcollector.Require(File.Exists("/usr/bin/unshare"), "unshare is not installed (util-linux)");
        var work = Directory.CreateTempSubdirectory("flowcollector-full-");
        var data = Path.Combine(work.FullName, "data");
        Directory.CreateDirectory(data);
        var netflow = CollectorProcess.FreeUdpPort();
        var http = CollectorProcess.FreeTcpPort();
        var output = new StringBuilder();
        var start = new ProcessStartInfo("/usr/bin/unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--mount", "--propagation", "private", "sh", "-c",
            $"mount -t tmpfs -o size=4m tmpfs {data} && exec dotnet {Path.Combine(AppContext.BaseDirectory, "flowcollector.dll")} run --data-dir {data} " +
            $"--netflow-port {netflow} --ipfix-port 0 --sflow-port 0 --http 127.0.0.1:{http} --monitor 203.0.113.0/24 " +
            "--set Listeners:Address=127.0.0.1 --set ProcNetDev:Mode=off",
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var collector = Process.Start(start)!;
        collector.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        collector.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        collector.BeginOutputReadLine();
        collector.BeginErrorReadLine();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(10) };
        using var sender = new NetFlowV5Sender(netflow);
        using var stop = new CancellationTokenSource();
        Task? sending = null;

        // The data directory as the collector sees it, from outside its mount namespace.
        var inside = $"/proc/{collector.Id}/root{data}";
        var filler = Path.Combine(inside, "filler");
        try
        {
            var first = await Eventually.Until(() => Health(client), "the collector's /healthz");
            Assert.Equal("ok", Parse(first).GetProperty("status").GetString());

            // Take every byte left, then attack 18 hosts.
            await FillUp(filler);
            sending = sender.RunAsync(Attack, stop.Token);
            var degraded = Parse(await Eventually.Until(async () => await Health(client) is { } h && Parse(h).GetProperty("status").GetString() == "degraded" ? h : null, "a degraded /healthz", 40));
            Assert.Equal("failing", degraded.GetProperty("store").GetProperty("status").GetString());
            Assert.Contains("disk is full", degraded.GetProperty("store").GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Contains(degraded.GetProperty("reasons").EnumerateArray(), r => r.GetString()!.StartsWith("the database fails", StringComparison.Ordinal));
            lock (output)
            {
                Assert.Contains("writes failing", output.ToString(), StringComparison.Ordinal);
            }

            // Room again: what was held lands, and the health is ok again.
            File.Delete(filler);
            await Eventually.Until(async () => await Health(client) is { } h && Parse(h).GetProperty("status").GetString() == "ok" ? h : null, "the store's recovery", 60);
            var open = await Eventually.Until(
                async () => JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/incidents?open=true", UriKind.Relative))).RootElement.EnumerateArray().Where(i => i.GetProperty("keyKind").GetString() == "destination").Select(i => i.GetProperty("address").GetString()!).ToList() is { Count: 18 } all ? all : null,
                "all 18 incidents in the database", 30);
            Assert.Equal(Victims.Order(), open.Order());
            lock (output)
            {
                Assert.Contains("writes succeed again", output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            await stop.CancelAsync();
            if (sending is not null)
            {
                await sending;
            }

            if (!collector.HasExited)
            {
                collector.Kill(entireProcessTree: true);
                await collector.WaitForExitAsync();
            }

            work.Delete(recursive: true);
        }
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    /// <summary>The body of /healthz, ok or degraded; null while it does not answer.</summary>
    private static async Task<string?> Health(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
            return response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable ? await response.Content.ReadAsStringAsync() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Writes until the file system says it is full.</summary>
    private static async Task FillUp(string path)
    {
        var block = new byte[64 * 1024];
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            while (true)
            {
                await file.WriteAsync(block);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full. The last partial block stays as it is.
        }
    }
}
