using FlowCollector.Decoders;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Capture;

/// <summary>
/// The composition of a short packet sample, counted by the same aggregation the collector runs: every frame is a
/// one-packet record of one second, with every destination under watch (prefixes 0.0.0.0/0 and ::/0), so that the
/// totals, tops and heaviest destinations are what the classifier reads everywhere else.
/// </summary>
internal sealed class PacketComposition
{
    /// <summary>A destination is a victim when it takes at least this share of the sample's packets.</summary>
    public const double VictimShare = 0.1;

    private const int MaxVictims = 8;

    private static readonly NetworkAddress Ipv4Multicast = NetworkAddress.Parse("224.0.0.0");
    private static readonly NetworkAddress Ipv4Broadcast = NetworkAddress.Parse("255.255.255.255");
    private static readonly NetworkAddress Ipv6Multicast = NetworkAddress.Parse("ff00::");
    private const long Second = 1;

    private readonly RateAggregator _aggregator;
    private readonly AggregationShard _shard;

    public PacketComposition(int maxDestinations = 4096)
    {
        _aggregator = new RateAggregator(
            new AggregationOptions { MaxDestinations = maxDestinations },
            new MonitoredPrefixes([IpPrefix.Parse("0.0.0.0/0"), IpPrefix.Parse("::/0")]),
            new InterfaceNames(),
            Second);
        _shard = _aggregator.CreateShard();
    }

    /// <summary>Frames counted (those that carried IP).</summary>
    public int Packets { get; private set; }

    /// <summary>Frames that were not IP.</summary>
    public int Skipped { get; private set; }

    public void Add(ReadOnlySpan<byte> frame, LinkType linkType, int wireLength)
    {
        if (!PacketFlows.TryDecodeMirrored(frame, linkType, wireLength, Second * 1000, out var flow) || !flow.HasAddresses)
        {
            Skipped++;
            return;
        }

        flow.StartMilliseconds = Second * 1000;
        flow.EndMilliseconds = Second * 1000;
        _shard.Enter();
        try
        {
            _shard.OnFlow(flow);
        }
        finally
        {
            _shard.Exit();
        }

        Packets++;
    }

    /// <summary>What the sample found, as rates over its <paramref name="seconds"/>.</summary>
    public PacketSample ToSample(long incidentId, double seconds)
    {
        seconds = Math.Max(seconds, 0.001);
        var second = _aggregator.Tick(Second);
        var total = default(TrafficSample);
        var destinations = new List<(NetworkAddress Address, double Packets)>();
        foreach (ref readonly var sample in second.Samples)
        {
            if (sample.Key.Kind == KeyKind.Prefix)
            {
                total.Counts.Add(sample.Counts, 1 / seconds);
                Merge(ref total.SourcePorts, sample.SourcePorts, 1 / seconds);
                Merge(ref total.Sources, sample.Sources, 1 / seconds);
                total.Destinations += sample.Destinations;
            }
            else if (sample.Key.Kind == KeyKind.Destination)
            {
                destinations.Add((sample.Key.Address, sample.Counts.Packets));
            }
        }

        var all = Math.Max(1, destinations.Sum(d => d.Packets));
        var victims = destinations
            .Where(d => d.Packets / all >= VictimShare && !IsMulticast(d.Address))
            .OrderByDescending(d => d.Packets)
            .Take(MaxVictims)
            .Select(d => new VictimRate(d.Address.ToString(), Math.Round(d.Packets / seconds, 1)))
            .ToList();
        return new PacketSample(incidentId, total, victims, Packets, Math.Round(seconds, 3));
    }

    /// <summary>
    /// Multicast and broadcast destinations are never a victim to name or act on: once a flood has stopped, a
    /// router's link still carries IPv6 neighbour discovery (ff02::2), which a follow sample must not name instead.
    /// </summary>
    private static bool IsMulticast(NetworkAddress address) =>
        address.IsIPv4
            ? address.IsInPrefix(Ipv4Multicast, 4) || address == Ipv4Broadcast
            : address.IsInPrefix(Ipv6Multicast, 8);

    private static void Merge<T>(ref TopItems<T> into, in TopItems<T> from, double factor)
        where T : unmanaged, IEquatable<T>
    {
        for (var i = 0; i < from.Count; i++)
        {
            into.Add(from.ItemAt(i), from.WeightAt(i) * factor);
        }
    }
}
