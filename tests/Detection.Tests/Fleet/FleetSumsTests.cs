using FlowCollector.Decoders;
using FlowCollector.Detection.Fleet;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Fleet;

public sealed class FleetSumsTests
{
    private const long Second = 1_700_000_000;
    private static readonly MonitoredPrefixes Prefixes = new([IpPrefix.Parse("203.0.113.0/24"), IpPrefix.Parse("2001:db8::/32")]);

    private static SummaryEntry Destination(string address, double packets, ushort port = 53)
    {
        var entry = new SummaryEntry { Kind = KeyKind.Destination, Address = NetworkAddress.Parse(address), PrefixLength = address.Contains(':', StringComparison.Ordinal) ? 128 : 32 };
        entry.Counts.Packets = packets;
        entry.Counts.UdpPackets = packets;
        entry.Counts.Bytes = packets * 1200;
        entry.SourcePorts.Add(TrafficSample.PortKey(17, port), packets);
        return entry;
    }

    private static SummaryEntry Prefix(string prefix, double packets, int destinations)
    {
        var parsed = IpPrefix.Parse(prefix);
        var entry = new SummaryEntry { Kind = KeyKind.Prefix, Address = parsed.Network, PrefixLength = parsed.Length, Destinations = destinations };
        entry.Counts.Packets = packets;
        return entry;
    }

    [Fact]
    public void Release_SumsEveryNodesEntryPerKey_WithTheirPortsAndContributorsHeaviestFirst()
    {
        var sums = new FleetSums(Prefixes, 100, Second);
        string[] nodes = ["pop-a", "pop-b", "pop-c", "pop-d"];
        for (var i = 0; i < nodes.Length; i++)
        {
            Assert.Equal(SumOutcome.Added, sums.Add(sums.NodeIndex(nodes[i]), Second, Destination("203.0.113.10", 1000 + (i * 100)), Second));
            Assert.Equal(SumOutcome.Added, sums.Add(sums.NodeIndex(nodes[i]), Second, Prefix("203.0.113.0/24", 1100 + (i * 100), 3 + i), Second));
        }

        var second = sums.Release(Second, DateTimeOffset.FromUnixTimeSeconds(Second + 3));
        Assert.Equal(Second, second.Second);
        Assert.Equal(2, second.Samples.Length);
        var destination = second.Samples.ToArray().Single(s => s.Key.Kind == KeyKind.Destination);
        Assert.Equal(TrafficKey.ForDestination(NetworkAddress.Parse("203.0.113.10"), 0), destination.Key);
        Assert.Equal(4600, destination.Counts.Packets);
        Assert.Equal(4600 * 1200, destination.Counts.Bytes);
        Assert.True(destination.SourcePorts.TryGetTop(out var port, out var weight));
        Assert.Equal(TrafficSample.PortKey(17, 53), port);
        Assert.Equal(4600, weight);
        var prefix = second.Samples.ToArray().Single(s => s.Key.Kind == KeyKind.Prefix);
        Assert.Equal(6, prefix.Destinations); // the most any node saw: destinations cannot be told apart across nodes
        Assert.Equal(["pop-d", "pop-c", "pop-b", "pop-a"], sums.Contributors(destination.Key).Select(c => c.Node));
        Assert.Equal(4, sums.NodeCount);
    }

    [Fact]
    public void Add_RefusesLateFutureUnmonitoredAndOverflowingEntries_AndCountsThemApart()
    {
        var sums = new FleetSums(Prefixes, maxKeys: 2, Second);
        var node = sums.NodeIndex("pop-a");
        Assert.Equal(SumOutcome.Unmonitored, sums.Add(node, Second, Destination("198.51.100.7", 10), Second));
        Assert.Equal(SumOutcome.Unmonitored, sums.Add(node, Second, Prefix("198.51.100.0/24", 10, 1), Second));
        Assert.Equal(SumOutcome.Unmonitored, sums.Add(node, Second, Prefix("203.0.113.0/25", 10, 1), Second)); // a prefix matches exactly, not by containment
        Assert.Equal(SumOutcome.Future, sums.Add(node, Second + FleetSums.MaxAheadSeconds + 1, Destination("203.0.113.10", 10), Second));
        Assert.Equal(SumOutcome.Added, sums.Add(node, Second, Destination("203.0.113.10", 10), Second));
        Assert.Equal(SumOutcome.Added, sums.Add(node, Second, Destination("2001:db8::10", 10), Second));
        Assert.Equal(SumOutcome.Overflow, sums.Add(node, Second, Destination("203.0.113.11", 10), Second));
        Assert.Equal(SumOutcome.Added, sums.Add(node, Second, Destination("203.0.113.10", 10), Second)); // a key held goes on summing
        sums.Release(Second, DateTimeOffset.UnixEpoch);
        Assert.Equal(SumOutcome.Late, sums.Add(node, Second, Destination("203.0.113.10", 10), Second + 1));
        Assert.Equal(Second, sums.ReleasedThrough);
    }

    [Fact]
    public void Release_LeavesOutExplainedKeys_AndReleasesEmptySecondsInTurn()
    {
        var sums = new FleetSums(Prefixes, 100, Second);
        var node = sums.NodeIndex("pop-a");
        sums.Add(node, Second + 1, Destination("203.0.113.10", 500), Second);
        sums.Add(node, Second + 1, Destination("203.0.113.11", 500), Second);
        var victim = TrafficKey.ForDestination(NetworkAddress.Parse("203.0.113.10"), 0);

        Assert.Equal(0, sums.Release(Second, DateTimeOffset.UnixEpoch).Samples.Length);
        var second = sums.Release(Second + 1, DateTimeOffset.UnixEpoch, key => key.Equals(victim));
        var sample = Assert.Single(second.Samples.ToArray());
        Assert.Equal(NetworkAddress.Parse("203.0.113.11"), sample.Key.Address);

        // The window is reused: the next second starts from nothing.
        sums.Add(node, Second + 2, Destination("203.0.113.11", 7), Second + 1);
        Assert.Equal(7, Assert.Single(sums.Release(Second + 2, DateTimeOffset.UnixEpoch).Samples.ToArray()).Counts.Packets);
    }

    [Fact]
    public void Release_DropsSecondsSkippedWhenTheClockJumps()
    {
        var sums = new FleetSums(Prefixes, 100, Second);
        var node = sums.NodeIndex("pop-a");
        sums.Add(node, Second + 1, Destination("203.0.113.10", 500), Second + 1);
        sums.Add(node, Second + 3, Destination("203.0.113.10", 9), Second + 1);
        var second = sums.Release(Second + 3, DateTimeOffset.UnixEpoch);
        Assert.Equal(9, Assert.Single(second.Samples.ToArray()).Counts.Packets);
        Assert.Equal(SumOutcome.Late, sums.Add(node, Second + 2, Destination("203.0.113.10", 1), Second + 3));
    }
}
