using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests;

/// <summary>
/// Router mode ships one Native AOT binary: it must publish without a trimming or AOT warning, and the binary must
/// work (decode a capture, validate a configuration, and run: once it has given start-up's memory back, it still
/// counts replayed traffic exactly).
/// </summary>
public sealed partial class AotPublishTests
{
    [Fact]
    public async Task Publish_NativeAot_HasNoWarningsAndTheBinaryWorks()
    {
        Flowcollector.Require(File.Exists("/usr/bin/clang"), "clang is not installed (apt-get install clang zlib1g-dev): Native AOT links with it");
        var artifacts = Directory.CreateTempSubdirectory("flowcollector-aot-");
        try
        {
            var output = Path.Combine(artifacts.FullName, "publish");
            var (exitCode, log) = Execute("dotnet", TimeSpan.FromMinutes(10), "publish", Path.Combine(Flowcollector.RepositoryRoot, "src", "Collector"), "-r", "linux-x64", "-c", "Release", "-p:PublishAot=true", "--artifacts-path", artifacts.FullName, "-o", output);

            Assert.True(exitCode == 0, log);
            var warnings = log.Split('\n').Where(line => line.Contains("warning", StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.True(warnings.Count == 0, string.Join('\n', warnings));
            var binary = Path.Combine(output, "flowcollector");
            Assert.True(File.Exists(binary));

            var decode = Execute(binary, TimeSpan.FromMinutes(1), "decode", OwnCaptures.Path("softflowd-v9.pcap"), "--format", "jsonl");
            Assert.Equal(0, decode.ExitCode);
            Assert.Equal(94, decode.Output.Split('\n').Count(line => line.StartsWith("{\"time\"", StringComparison.Ordinal)));

            var check = Execute(binary, TimeSpan.FromMinutes(1), "check-config", "--set", "Listeners:NetFlowPort=99999");
            Assert.Equal(78, check.ExitCode);
            Assert.Contains("Listeners:NetFlowPort: must be a UDP port", check.Output, StringComparison.Ordinal);

            await using var collector = await CollectorProcess.StartExecutableAsync(binary);
            var returned = await Eventually.Until(() => StartupMemory().Match(collector.Output) is { Success: true } match ? match : null, "the start-up memory report");
            var before = long.Parse(returned.Groups["before"].Value, CultureInfo.InvariantCulture);
            var after = long.Parse(returned.Groups["after"].Value, CultureInfo.InvariantCulture);
            Assert.True(after < before, returned.Value);
            Assert.True(long.Parse(returned.Groups["image"].Value, CultureInfo.InvariantCulture) > 0, returned.Value);

            // The unmapped pages come back as they are touched: code that first runs now decodes and counts correctly.
            var replay = Execute(binary, TimeSpan.FromMinutes(1), "replay", OwnCaptures.Path("softflowd-ipfix.pcap"), "--to", $"127.0.0.1:{collector.IpfixPort}", "--max");
            Assert.True(replay.ExitCode == 0, replay.Output);
            var packets = OwnCaptures.Packets(4) + OwnCaptures.Packets(6);
            Assert.Equal(packets, await collector.WaitForMetricAsync("flowcollector_node_packets_total", packets, TimeSpan.FromSeconds(20), ("source", "ipfix")), 3);
            Assert.Equal(0.0, await collector.MetricAsync("flowcollector_exporter_decode_errors_total"));
        }
        finally
        {
            artifacts.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"start-up memory returned: resident set (?<before>\d+) KiB -> (?<after>\d+) KiB \((?<image>\d+) KiB")]
    private static partial Regex StartupMemory();

    private static (int ExitCode, string Output) Execute(string program, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish in {timeout}");
        }

        return (process.ExitCode, output.Result + error.Result);
    }
}
