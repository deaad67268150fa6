using System.Text;
using FlowCollector.Decoders.ProcNetDev;

namespace FlowCollector.Decoders.Tests.ProcNetDev;

public sealed class ProcNetDevParserTests
{
    private static readonly string Samples = Path.Combine(AppContext.BaseDirectory, "ProcNetDev", "Samples");

    private static (Dictionary<string, InterfaceCounters> Interfaces, int Malformed) Parse(string file)
    {
        var sink = new Sink();
        ProcNetDevParser.Parse(File.ReadAllBytes(Path.Combine(Samples, file)), 1_700_000_000_000, ref sink, out var malformed);
        return (sink.Interfaces, malformed);
    }

    [Fact]
    public void Parse_DevelopmentMachine_ReadsEveryInterface()
    {
        var (interfaces, malformed) = Parse("debian12-vm.txt");

        Assert.Equal(0, malformed);
        Assert.Equal(["lo", "ifb0", "ifb1", "eth0"], interfaces.Keys);
        Assert.Equal((339_699_348UL, 8311UL, 478_155UL, 5415UL), (interfaces["eth0"].InOctets, interfaces["eth0"].InPackets, interfaces["eth0"].OutOctets, interfaces["eth0"].OutPackets));
        Assert.All(interfaces.Values, c => Assert.Equal((CounterSource.ProcNetDev, 1_700_000_000_000L), (c.Source, c.TimestampMilliseconds)));
    }

    [Fact]
    public void Parse_NamespaceAfterKnownTraffic_ShowsThatTraffic()
    {
        var (interfaces, _) = Parse("netns-veth.txt");

        Assert.Equal(502UL, interfaces["veth-a"].InPackets);
        Assert.Equal(521_132UL, interfaces["veth-a"].InOctets);
        Assert.Equal((14UL, 14UL), (interfaces["lo"].InPackets, interfaces["lo"].OutPackets));
    }

    [Fact]
    public void Parse_EdgeCases_FullRangeCountersDottedNamesAndAMalformedLine()
    {
        var (interfaces, malformed) = Parse("constructed-edge-cases.txt");

        Assert.Equal(1, malformed);
        Assert.Equal(ulong.MaxValue, interfaces["eth0"].InOctets);
        Assert.Equal(4_294_967_296UL, interfaces["eth0"].InPackets);
        Assert.Equal((1UL, 2UL, 3UL, 4UL), (interfaces["eth0"].InErrors, interfaces["eth0"].InDiscards, interfaces["eth0"].OutErrors, interfaces["eth0"].OutDiscards));
        Assert.Equal(12_345_678_901UL, interfaces["eth0"].OutPackets);
        Assert.Equal(200UL, interfaces["enp0s31f6.100"].OutOctets);
        Assert.False(interfaces.ContainsKey("broken"));
    }

    [Fact]
    public void Parse_EveryPrefixOfASample_NeverThrows()
    {
        var text = File.ReadAllBytes(Path.Combine(Samples, "constructed-edge-cases.txt"));
        for (var length = 0; length <= text.Length; length++)
        {
            var sink = new Sink();
            ProcNetDevParser.Parse(text.AsSpan(0, length), 0, ref sink, out _);
            Assert.True(sink.Interfaces.Count <= 2);
        }
    }

    private struct Sink() : IInterfaceCountersSink
    {
        public Dictionary<string, InterfaceCounters> Interfaces { get; } = [];

        public readonly void OnInterface(ReadOnlySpan<byte> name, in InterfaceCounters counters) => Interfaces[Encoding.ASCII.GetString(name)] = counters;
    }
}
