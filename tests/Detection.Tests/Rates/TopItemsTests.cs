using FlowCollector.Decoders;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Rates;

public sealed class TopItemsTests
{
    [Fact]
    public void Add_UpToCapacity_CountsEveryItemExactly()
    {
        var top = default(TopItems<uint>);
        for (uint port = 1; port <= TopItems<uint>.Capacity; port++)
        {
            top.Add(port, port);
            top.Add(port, port);
        }

        var sorted = top.ToSortedArray();
        Assert.Equal(TopItems<uint>.Capacity, sorted.Length);
        Assert.Equal([.. Enumerable.Range(1, TopItems<uint>.Capacity).Reverse().Select(p => ((uint)p, 2.0 * p))], sorted);
    }

    [Fact]
    public void Add_HeavyItemAmongManyLightOnes_SurvivesWithBoundedOverestimate()
    {
        // A spoofed flood: every record a new source, one real heavy hitter holding a quarter of the packets.
        var top = default(TopItems<NetworkAddress>);
        var heavy = NetworkAddress.Parse("198.51.100.1");
        double total = 0;
        for (var i = 0; i < 40_000; i++)
        {
            if (i % 4 == 0)
            {
                top.Add(heavy, 1);
            }
            else
            {
                top.Add(NetworkAddress.Parse($"2001:db8::{i:x}"), 1);
            }

            total++;
        }

        Assert.True(top.TryGetTop(out var item, out var weight));
        Assert.Equal(heavy, item);
        // Space-saving overestimates by at most total / capacity.
        Assert.InRange(weight, 10_000, 10_000 + (total / TopItems<NetworkAddress>.Capacity));
    }

    [Fact]
    public void Add_AfterClear_SlotsAreNotMatched()
    {
        var top = default(TopItems<uint>);
        for (uint port = 10; port < 18; port++)
        {
            top.Add(port, 1);
        }

        top.Clear();
        top.Add(17, 5);
        top.Add(12, 3);

        // Port 12 sat in a stale slot past the count: it must be a new entry, not an increment of stale data.
        Assert.Equal([(17u, 5.0), (12u, 3.0)], top.ToSortedArray());
    }

    [Fact]
    public void Add_TableFull_ReplacesTheLightestSlotWhereverItSits()
    {
        for (var position = 0; position < TopItems<uint>.Capacity; position++)
        {
            var top = default(TopItems<uint>);
            for (var slot = 0; slot < TopItems<uint>.Capacity; slot++)
            {
                top.Add((uint)slot, slot == position ? 1 : 10);
            }

            top.Add(100, 2);

            var sorted = top.ToSortedArray();
            Assert.DoesNotContain(sorted, entry => entry.Item == (uint)position);
            Assert.Contains((100u, 3.0), sorted);
        }
    }

    [Fact]
    public void Add_ZeroOrNegativeWeight_IsIgnored()
    {
        var top = default(TopItems<uint>);
        top.Add(1, 0);
        top.Add(2, -3);
        Assert.Equal(0, top.Count);
    }
}
