using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Flows;

/// <summary>
/// Every NetFlow and IPFIX fixture (captures and raw datagrams) decodes to what tshark lists, record by record:
/// addresses, ports, protocol, packets, bytes, and the interfaces, TCP flags, sampler and VLAN where tshark shows them.
/// </summary>
public sealed class FixtureGroundTruthTests
{
    private const string Missing = "(shared fixtures missing)";

    /// <summary>
    /// Where our decoder deliberately differs from tshark, and why. Each is asserted for what we do instead.
    /// </summary>
    private static readonly Dictionary<string, (DecodeStatus Status, string Reason)> Divergences = new()
    {
        ["raw/netflow5/logstash_netflow5_test_invalid01.dat"] = (DecodeStatus.BadCount, "header count 55582 > 30: rejected, not guessed"),
        ["raw/netflow5/logstash_netflow5_test_invalid02.dat"] = (DecodeStatus.BadCount, "header count 163 > 30: rejected, not guessed"),
    };

    public static TheoryData<string> FlowFixtures()
    {
        var data = new TheoryData<string>();
        if (!SharedFixtures.Exists)
        {
            data.Add(Missing);
            return data;
        }

        foreach (var entry in SharedFixtures.Manifest)
        {
            if (IsFlowFolder(entry.Folder))
            {
                data.Add(entry.Path);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FlowFixtures))]
    public void Decode_Fixture_MatchesTsharkRecordByRecord(string path)
    {
        TestEnvironment.Require(path != Missing && SharedFixtures.Exists, $"shared fixtures not found at {SharedFixtures.Root}");
        var entry = SharedFixtures.Entry(path);
        var decoder = new FlowDecoder(new FlowDecoderOptions { TemplateLifetime = TimeSpan.Zero });
        foreach (var prerequisite in SharedFixtures.Prerequisites(entry))
        {
            var ignored = new RecordingSink();
            foreach (var datagram in SharedFixtures.Datagrams(prerequisite))
            {
                decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref ignored);
            }
        }

        var datagrams = SharedFixtures.Datagrams(entry).Where(d => FlowDecoder.LooksLikeFlowExport(d.Payload)).ToList();
        Assert.Equal(entry.Datagrams, datagrams.Count);

        var ours = new Dictionary<int, List<FlowRecord>>();
        var statuses = new List<DecodeStatus>();
        foreach (var datagram in datagrams)
        {
            var sink = new RecordingSink();
            statuses.Add(decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink));
            ours[datagram.Frame] = [.. sink.Records.Where(r => (r.Attributes & FlowAttributes.Reverse) == 0)];
        }

        if (Divergences.TryGetValue(path, out var divergence))
        {
            Assert.All(statuses, status => Assert.Equal(divergence.Status, status));
            Assert.All(ours.Values, records => Assert.Empty(records));
            return;
        }

        if (!File.Exists(SharedFixtures.ExpectedPath(entry, ".records.jsonl")))
        {
            // tshark's decoding was too large to keep: the manifest's record count is the ground truth.
            Assert.Equal(entry.Records, ours.Values.Sum(records => records.Count));
            return;
        }

        var templateKinds = new Dictionary<string, bool>();
        foreach (var prerequisite in SharedFixtures.Prerequisites(entry))
        {
            foreach (var datagram in SharedFixtures.ExpectedDatagrams(prerequisite))
            {
                TsharkFlows(datagram, templateKinds);
            }
        }

        var tsharkDatagrams = SharedFixtures.ExpectedDatagrams(entry);
        var tsharkFlows = tsharkDatagrams.ToDictionary(d => d.GetProperty("frame").GetInt32(), d => TsharkFlows(d, templateKinds));
        var flowSetCounts = datagrams.ToDictionary(d => d.Frame, d => CountSets(d.Payload));
        var trusted = tsharkDatagrams.ToDictionary(
            d => d.GetProperty("frame").GetInt32(),
            d => IsTrusted(d, flowSetCounts.GetValueOrDefault(d.GetProperty("frame").GetInt32())));
        var expected = SharedFixtures.ExpectedRecords(entry).GroupBy(r => r.GetProperty("frame").GetInt32()).ToDictionary(g => g.Key, g => g.ToList());
        var problems = new StringBuilder();
        foreach (var frame in ours.Keys.Union(expected.Keys).Order())
        {
            var decoded = ours.GetValueOrDefault(frame) ?? [];
            var wanted = expected.GetValueOrDefault(frame) ?? [];
            var isTrusted = trusted.GetValueOrDefault(frame, true);
            if (isTrusted && decoded.Count != wanted.Count)
            {
                problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame}: {decoded.Count} records, tshark {wanted.Count}");
                continue;
            }

            var flows = tsharkFlows.GetValueOrDefault(frame) ?? [];
            if (isTrusted)
            {
                for (var i = 0; i < wanted.Count; i++)
                {
                    Compare(frame, i, decoded[i], wanted[i], flows.Count == wanted.Count ? flows[i] : null, problems);
                }

                continue;
            }

            // Where tshark itself gave up (malformed, data before its template, a lying header count), each record
            // it did read must be among ours; we may read more, and held data sets come out in another order.
            var unmatched = new List<FlowRecord>(decoded);
            for (var i = 0; i < wanted.Count; i++)
            {
                var flow = flows.Count == wanted.Count ? flows[i] : (JsonElement?)null;
                var match = unmatched.FindIndex(record => Differences(record, wanted[i], flow).Count == 0);
                if (match < 0)
                {
                    problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame}: tshark record {i} is not among ours: {wanted[i]}");
                    continue;
                }

                unmatched.RemoveAt(match);
            }
        }

        Assert.True(problems.Length == 0, $"{path}:\n{problems}");
    }

    private static bool IsFlowFolder(string folder) =>
        folder is "pcaps/netflow5" or "pcaps/netflow9" or "pcaps/ipfix" or "raw/netflow5" or "raw/netflow9" or "raw/ipfix";

    /// <summary>
    /// A datagram tshark decoded fully: not malformed, no data set without its template, and every set read
    /// (tshark stops a NetFlow v9 datagram at its header count, which exporters get wrong; we walk by length).
    /// </summary>
    private static bool IsTrusted(JsonElement datagram, int setsInDatagram)
    {
        var text = datagram.GetRawText();
        var setsRead = datagram.TryGetProperty("cflow", out var cflow)
            ? cflow.EnumerateObject().Count(p => p.Name.StartsWith("FlowSet ", StringComparison.Ordinal) || p.Name.StartsWith("Set ", StringComparison.Ordinal))
            : 0;
        if (setsRead < setsInDatagram)
        {
            return false;
        }

        if (text.Contains("_ws.malformed", StringComparison.Ordinal) || text.Contains("no template found", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var property in Flatten(datagram))
        {
            if (property.StartsWith("FlowSet ", StringComparison.Ordinal) || property.StartsWith("Set ", StringComparison.Ordinal))
            {
                var id = property[(property.IndexOf("[id=", StringComparison.Ordinal) + 4)..property.IndexOf(']', StringComparison.Ordinal)];
                if (int.Parse(id, CultureInfo.InvariantCulture) >= 256 && !property.Contains(" flows)", StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Sets in a NetFlow v9 or IPFIX datagram, walked by their lengths.</summary>
    private static int CountSets(byte[] payload)
    {
        var version = payload.Length >= 2 ? (payload[0] << 8) | payload[1] : 0;
        var offset = version switch { 9 => 20, 10 => 16, _ => payload.Length };
        var count = 0;
        while (offset + 4 <= payload.Length)
        {
            var length = (payload[offset + 2] << 8) | payload[offset + 3];
            if (length < 4)
            {
                break;
            }

            count++;
            offset += length;
        }

        return count;
    }

    /// <summary>
    /// The data records tshark decoded in one datagram, in order, as its raw JSON objects; options data is left
    /// out, as in the flattened ground truth. Template kinds are tracked across datagrams (and files) in order.
    /// </summary>
    private static List<JsonElement> TsharkFlows(JsonElement datagram, Dictionary<string, bool> templateKinds)
    {
        var flows = new List<JsonElement>();
        if (!datagram.TryGetProperty("cflow", out var cflow))
        {
            return flows;
        }

        foreach (var set in cflow.EnumerateObject())
        {
            var name = set.Name;
            if (!name.StartsWith("FlowSet ", StringComparison.Ordinal) && !name.StartsWith("Set ", StringComparison.Ordinal))
            {
                continue;
            }

            var kind = name.IndexOf("Template): ", StringComparison.Ordinal);
            if (kind >= 0)
            {
                var isOptions = name.Contains("(Options Template)", StringComparison.Ordinal);
                foreach (var id in name[(kind + 11)..].Split(','))
                {
                    templateKinds[id.Trim()] = isOptions;
                }

                continue;
            }

            var idStart = name.IndexOf("[id=", StringComparison.Ordinal) + 4;
            var setId = name[idStart..name.IndexOf(']', idStart)];
            if (templateKinds.GetValueOrDefault(setId) || set.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var flow in set.Value.EnumerateObject())
            {
                if (flow.Name.StartsWith("Flow ", StringComparison.Ordinal) && CarriesFlowData(flow.Value))
                {
                    flows.Add(flow.Value);
                }
            }
        }

        return flows;
    }

    private static bool CarriesFlowData(JsonElement flow) =>
        flow.TryGetProperty("cflow.srcaddr", out _) || flow.TryGetProperty("cflow.dstaddr", out _)
        || flow.TryGetProperty("cflow.srcaddrv6", out _) || flow.TryGetProperty("cflow.dstaddrv6", out _)
        || flow.TryGetProperty("cflow.octets", out _) || flow.TryGetProperty("cflow.packets", out _);

    /// <summary>tshark's own field names for a flattened key, to check a value against every one it decoded.</summary>
    private static string[] TsharkFields(string key) => key switch
    {
        "src" => ["cflow.srcaddr", "cflow.srcaddrv6"],
        "dst" => ["cflow.dstaddr", "cflow.dstaddrv6"],
        "srcPort" => ["cflow.srcport"],
        "dstPort" => ["cflow.dstport"],
        "proto" => ["cflow.protocol"],
        "tcpFlags" => ["cflow.tcpflags"],
        "packets" => ["cflow.packets"],
        "bytes" => ["cflow.octets"],
        _ => [],
    };

    private static IEnumerable<string> TsharkValues(JsonElement flow, string key)
    {
        foreach (var field in TsharkFields(key))
        {
            if (!flow.TryGetProperty(field, out var value))
            {
                continue;
            }

            var values = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().Select(v => v.ToString()) : [value.ToString()];
            foreach (var text in values)
            {
                yield return text.StartsWith("0x", StringComparison.Ordinal)
                    ? Convert.ToUInt64(text, 16).ToString(CultureInfo.InvariantCulture)
                    : text;
            }
        }
    }

    private static IEnumerable<string> Flatten(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        foreach (var property in element.EnumerateObject())
        {
            yield return property.Name;
            foreach (var inner in Flatten(property.Value))
            {
                yield return inner;
            }
        }
    }

    /// <summary>
    /// Compares one record with the flattened expectation. Where a template repeats a field (SRv6: outer and inner
    /// protocol and ports) or carries both address families (one pair zeroed), the flattening kept one of tshark's
    /// values; ours must then be another value tshark decoded for the same field of the same record.
    /// </summary>
    private static void Compare(int frame, int index, FlowRecord decoded, JsonElement wanted, JsonElement? tsharkFlow, StringBuilder problems)
    {
        foreach (var difference in Differences(decoded, wanted, tsharkFlow))
        {
            problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame} record {index}: {difference}");
        }
    }

    private static List<string> Differences(FlowRecord decoded, JsonElement wanted, JsonElement? tsharkFlow)
    {
        var differences = new List<string>();
        foreach (var property in wanted.EnumerateObject())
        {
            string? ours = property.Name switch
            {
                "src" => decoded.HasAddresses ? decoded.SourceAddress.ToString() : null,
                "dst" => decoded.HasAddresses ? decoded.DestinationAddress.ToString() : null,
                "srcPort" => Invariant(decoded.SourcePort),
                "dstPort" => Invariant(decoded.DestinationPort),
                "proto" => Invariant(decoded.IpProtocol),
                "packets" => Invariant(decoded.Packets),
                "bytes" => Invariant(decoded.Bytes),
                "tcpFlags" => Invariant(decoded.TcpFlags),
                "inIf" => Invariant(decoded.InputInterface),
                "outIf" => Invariant(decoded.OutputInterface),
                "samplerId" => Invariant(decoded.SamplerId),
                "vlan" => Invariant(decoded.Vlan),
                "exporter" => decoded.Exporter.ToString(),
                _ => property.Value.ToString(),
            };
            var theirs = property.Value.ToString();
            if (ours != theirs && !(ours is not null && tsharkFlow is { } flow && TsharkValues(flow, property.Name).Contains(ours)))
            {
                differences.Add($"{property.Name} = {ours ?? "(none)"}, tshark {theirs}");
            }
        }

        return differences;
    }

    private static string Invariant<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
