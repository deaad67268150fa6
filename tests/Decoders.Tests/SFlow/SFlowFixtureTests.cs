using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.SFlow;

/// <summary>
/// Every sFlow capture and raw datagram decodes to the samples tshark lists, in order: flow samples (addresses,
/// ports, protocol, frame length, sampling rate, interfaces) and generic interface counters.
/// </summary>
public sealed class SFlowFixtureTests
{
    private const string Missing = "(shared fixtures missing)";

    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        if (!SharedFixtures.Exists)
        {
            data.Add(Missing);
            return data;
        }

        foreach (var entry in SharedFixtures.Manifest.Where(e => e.Folder is "pcaps/sflow" or "raw/sflow"))
        {
            data.Add(entry.Path);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Decode_SFlowFixture_MatchesTsharkSampleBySample(string path)
    {
        TestEnvironment.Require(path != Missing && SharedFixtures.Exists, $"shared fixtures not found at {SharedFixtures.Root}");
        var entry = SharedFixtures.Entry(path);
        var decoder = new FlowDecoder();
        var decoded = new Dictionary<int, List<object>>();
        var datagrams = SharedFixtures.Datagrams(entry).Where(d => FlowDecoder.FormatOf(d.Payload) == ExportFormat.SFlow).ToList();
        foreach (var datagram in datagrams)
        {
            var sink = new RecordingSink();
            decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink);
            decoded[datagram.Frame] = sink.InOrder;
        }

        Assert.Equal(entry.Datagrams, datagrams.Count);
        var malformed = SharedFixtures.ExpectedDatagrams(entry)
            .Where(d => d.GetRawText().Contains("_ws.malformed", StringComparison.Ordinal))
            .Select(d => d.GetProperty("frame").GetInt32())
            .ToHashSet();
        var expected = SharedFixtures.ExpectedRecords(entry).GroupBy(r => r.GetProperty("frame").GetInt32()).ToDictionary(g => g.Key, g => g.ToList());
        var problems = new StringBuilder();
        var compared = 0;
        foreach (var frame in decoded.Keys.Union(expected.Keys).Order())
        {
            var ours = decoded.GetValueOrDefault(frame) ?? [];
            var wanted = expected.GetValueOrDefault(frame) ?? [];
            if (malformed.Contains(frame))
            {
                // tshark gave up inside this datagram: the samples it did read must be ours, in order.
                if (ours.Count < wanted.Count)
                {
                    problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame}: {ours.Count} samples, fewer than the {wanted.Count} tshark read");
                }
            }
            else if (ours.Count != wanted.Count)
            {
                problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame}: {ours.Count} samples, tshark {wanted.Count}");
                continue;
            }

            // tshark's JSON merges samples of the same name into arrays, which reorders them within a datagram:
            // each sample tshark lists must match one of ours exactly.
            var unmatched = new List<object>(ours);
            foreach (var sample in wanted)
            {
                var match = unmatched.FindIndex(candidate => Differences(candidate, sample).Count == 0);
                if (match < 0)
                {
                    var closest = unmatched.Select(candidate => Differences(candidate, sample)).OrderBy(d => d.Count).FirstOrDefault() ?? ["no sample of ours left"];
                    problems.AppendLine(CultureInfo.InvariantCulture, $"frame {frame}: no sample like tshark's {sample}; nearest differs in {string.Join("; ", closest)}");
                    continue;
                }

                unmatched.RemoveAt(match);
                compared++;
            }
        }

        Assert.True(problems.Length == 0, $"{path}:\n{problems}");
        Assert.True(compared > 0 || path.Contains("segv", StringComparison.Ordinal), $"{path}: nothing compared");
    }

    private static List<string> Differences(object ours, JsonElement wanted)
    {
        var differences = new List<string>();
        var kind = wanted.GetProperty("kind").GetString();
        foreach (var property in wanted.EnumerateObject())
        {
            string? value = (kind, ours) switch
            {
                ("flow", FlowRecord flow) => FlowValue(flow, property.Name),
                ("counters", InterfaceCounters counters) => CounterValue(counters, property.Name),
                _ => $"a {ours.GetType().Name}",
            };
            if (value is not null && value != property.Value.ToString())
            {
                differences.Add($"{property.Name} = {value}, tshark {property.Value}");
            }
        }

        return differences;
    }

    /// <summary>Our value for a flattened key, or null for keys that carry no claim about the record.</summary>
    private static string? FlowValue(FlowRecord flow, string key) => key switch
    {
        "frame" or "kind" or "samplePool" or "drops" => null,
        "exporter" => flow.Exporter.ToString(),
        "samplingRate" => Invariant(flow.SamplingRate),

        // tshark flattens the output interface word's value; for the discard and multiple-interface formats
        // that value is a reason or a count, not an ifIndex: ours is 0 with the matching attribute.
        "outIf" when flow.Attributes.HasFlag(FlowAttributes.Discarded) || flow.Attributes.HasFlag(FlowAttributes.MultipleOutputs) => flow.OutputInterface == 0 ? null : "non-zero",
        "inIf" => Invariant(flow.InputInterface),
        "outIf" => Invariant(flow.OutputInterface),
        "frameLength" => Invariant(flow.FrameLength),
        "src" => flow.HasAddresses ? flow.SourceAddress.ToString() : "(none)",
        "dst" => flow.HasAddresses ? flow.DestinationAddress.ToString() : "(none)",
        "proto" => Invariant(flow.IpProtocol),
        "srcPort" => Invariant(flow.SourcePort),
        "dstPort" => Invariant(flow.DestinationPort),
        _ => $"(unknown key {key})",
    };

    private static string? CounterValue(InterfaceCounters counters, string key) => key switch
    {
        "frame" or "kind" => null,
        "exporter" => counters.Exporter.ToString(),
        "ifIndex" => Invariant(counters.IfIndex),
        "ifSpeed" => Invariant(counters.IfSpeed),
        "inOctets" => Known(counters.InOctets, counters.Has(KnownCounters.InOctets)),
        "outOctets" => Known(counters.OutOctets, counters.Has(KnownCounters.OutOctets)),
        "inPackets" => Known(counters.InUnicastPackets, counters.Has(KnownCounters.InUnicast)),
        "outPackets" => Known(counters.OutUnicastPackets, counters.Has(KnownCounters.OutUnicast)),
        "inDiscards" => Known(counters.InDiscards, counters.Has(KnownCounters.InDiscards)),
        "inErrors" => Known(counters.InErrors, counters.Has(KnownCounters.InErrors)),
        _ => $"(unknown key {key})",
    };

    /// <summary>tshark prints an unknown (all ones) counter as its raw value.</summary>
    private static string Known(ulong value, bool known) => known ? Invariant(value) : "unknown";

    private static string Invariant<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
