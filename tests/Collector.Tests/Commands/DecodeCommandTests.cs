using System.Text.Json;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Commands;

public sealed class DecodeCommandTests
{
    private static readonly string[] JsonKeys =
    [
        "time", "exporter", "protocol", "domain", "src", "dst", "srcPort", "dstPort", "proto", "tcpFlags", "packets", "bytes", "samplingRate", "inIf", "outIf", "start", "end",
    ];

    private static string OwnCapture(string name) => Path.Combine(Flowcollector.RepositoryRoot, "tests", "fixtures", "pcaps", name);

    [Fact]
    public void Decode_JsonlFormat_PrintsOneObjectPerRecordWithExactlyTheDocumentedKeys()
    {
        var (exitCode, output, error) = Flowcollector.Run("decode", OwnCapture("softflowd-v9.pcap"), "--format", "jsonl");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(94, lines.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            Assert.Equal(JsonKeys, json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal("netflow9", json.RootElement.GetProperty("protocol").GetString());
            Assert.Equal("127.0.0.1", json.RootElement.GetProperty("exporter").GetString());
            Assert.True(DateTimeOffset.TryParse(json.RootElement.GetProperty("time").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
        }

        Assert.Contains("records: 94", error, StringComparison.Ordinal);
        Assert.Contains("Ok: 4", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SeveralFiles_TemplatesOfAnEarlierFileServeTheDataOfALaterOne()
    {
        var folder = Path.Combine(Flowcollector.SharedFixtures, "pcaps", "netflow9");
        Flowcollector.Require(Directory.Exists(folder), $"shared fixtures not found at {folder}");

        var dataAlone = Flowcollector.Run("decode", Path.Combine(folder, "akvorado_v9_data.pcap"), "--format", "jsonl");
        var withTemplate = Flowcollector.Run("decode", Path.Combine(folder, "akvorado_v9_template.pcap"), Path.Combine(folder, "akvorado_v9_data.pcap"), "--format", "jsonl");

        Assert.Empty(dataAlone.Output.Trim());
        Assert.Contains("MissingTemplate: 1", dataAlone.Error, StringComparison.Ordinal);
        Assert.Equal(4, withTemplate.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Decode_SampledNetFlowV5_PrintsTheRateAndExportedCounters()
    {
        var path = Path.Combine(Flowcollector.SharedFixtures, "pcaps", "netflow5", "graylog_netflow5.pcap");
        Flowcollector.Require(File.Exists(path), $"shared fixture not found: {path}");

        var (exitCode, output, _) = Flowcollector.Run("decode", path, "--format", "jsonl");

        Assert.Equal(0, exitCode);
        using var first = JsonDocument.Parse(output.Split('\n')[0]);
        Assert.Equal(100, first.RootElement.GetProperty("samplingRate").GetInt32());
        Assert.Equal(84, first.RootElement.GetProperty("bytes").GetInt32());
        Assert.Equal("netflow5", first.RootElement.GetProperty("protocol").GetString());
    }

    [Fact]
    public void Decode_PortThatTheExportDoesNotUse_SelectsNothing()
    {
        var (exitCode, output, error) = Flowcollector.Run("decode", OwnCapture("softflowd-ipfix.pcap"), "--port", "2055");

        Assert.Equal(0, exitCode);
        Assert.Empty(output.Trim());
        Assert.Contains("flow datagrams: 0", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_TextFormat_PrintsAHeaderAndOneLinePerRecord()
    {
        var (exitCode, output, _) = Flowcollector.Run("decode", OwnCapture("softflowd-v5.pcap"));

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Start", lines[0], StringComparison.Ordinal);
        Assert.Equal(72, lines.Length - 1);
        Assert.All(lines.Skip(1), line => Assert.Contains("netflow5", line, StringComparison.Ordinal));
    }

    [Fact]
    public void Decode_SpanCapture_EachFrameIsOnePacketNamedAfterTheMirroringDevice()
    {
        var (exitCode, output, error) = Flowcollector.Run("decode", "--span", OwnCapture("mirrored-erspan2.pcap"), "--format", "jsonl");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1314, lines.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            Assert.Equal(JsonKeys, json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal("span", json.RootElement.GetProperty("protocol").GetString());
            Assert.Equal("192.0.2.200", json.RootElement.GetProperty("exporter").GetString());
            Assert.Equal(1, json.RootElement.GetProperty("packets").GetInt32());
            Assert.Equal(1, json.RootElement.GetProperty("samplingRate").GetInt32());
        }

        Assert.Contains("records: 1314", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SFlowCapture_IsRecognisedWithoutBeingTold()
    {
        var (exitCode, output, _) = Flowcollector.Run("decode", OwnCapture("pmacct-sflow.pcap"), "--format", "jsonl");

        Assert.Equal(0, exitCode);
        using var first = JsonDocument.Parse(output.Split('\n')[0]);
        Assert.Equal("sflow", first.RootElement.GetProperty("protocol").GetString());
    }

    [Fact]
    public void Decode_Counters_PrintsTheDocumentedKeys()
    {
        var path = Path.Combine(Flowcollector.SharedFixtures, "pcaps", "sflow", "tcpdump_sflow-print-v6.pcap");
        Flowcollector.Require(File.Exists(path), $"shared fixture not found: {path}");

        var (exitCode, output, _) = Flowcollector.Run("decode", path, "--counters");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(48, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(
            ["time", "exporter", "ifIndex", "ifSpeed", "inOctets", "outOctets", "inPackets", "outPackets", "inDiscards", "inErrors"],
            first.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(23001, first.RootElement.GetProperty("ifIndex").GetInt32());
        Assert.Equal(400_000_000_000, first.RootElement.GetProperty("ifSpeed").GetInt64());
        Assert.Equal(9717, first.RootElement.GetProperty("outOctets").GetInt64());
    }

    [Fact]
    public void Decode_FileThatIsNotACapture_FailsWithAClearMessage()
    {
        var path = Path.Combine(Flowcollector.RepositoryRoot, "tests", "fixtures", "README.md");

        var (exitCode, _, error) = Flowcollector.Run("decode", path);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("README.md: not a pcap or pcapng capture", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_MissingFile_FailsNamingIt()
    {
        var (exitCode, _, error) = Flowcollector.Run("decode", "/nonexistent/capture.pcap");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("/nonexistent/capture.pcap: no such file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_InvalidPort_IsAUsageError()
    {
        var (exitCode, _, error) = Flowcollector.Run("decode", OwnCapture("softflowd-v5.pcap"), "--port", "70000");

        Assert.Equal(2, exitCode);
        Assert.Contains("--port", error, StringComparison.Ordinal);
    }
}
