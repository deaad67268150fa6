using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>
/// Names an attack from the composition of its breaching seconds. Each second, the packets above the baseline (the
/// excess) are attributed to signatures: reflection by UDP source port, SYN-only, ACK, RST, ICMP, GRE, fragments,
/// other UDP. Evidence accumulates over the incident, so one odd second does not rename it. The confidence is the
/// share of the excess that matches the named signature.
/// </summary>
public sealed class AttackEvidence
{
    private const int Kinds = (int)AttackType.MultiVector + 1;
    private const byte Udp = 17;
    private readonly double[] _matching = new double[Kinds];
    private double _excess;

    /// <summary>Breaching seconds seen.</summary>
    public int Seconds { get; private set; }

    /// <summary>Adds one breaching second of a key with the given learned means.</summary>
    public void Add(in TrafficSample sample, in MetricValues mean)
    {
        ref readonly var counts = ref sample.Counts;
        var excess = counts.Packets - mean[(int)DetectionMetric.Pps];
        var expected = 1.0;

        // A breach of bits per second alone (bigger packets, same rate) has no packet excess: the whole second's
        // composition is the evidence then.
        if (excess < 0.2 * counts.Packets)
        {
            excess = counts.Packets;
            expected = 0;
        }

        if (excess <= 0)
        {
            return;
        }

        Seconds++;
        _excess += excess;
        double amplified = 0;
        for (var i = 0; i < sample.SourcePorts.Count; i++)
        {
            var (protocol, port) = TrafficSample.SplitPortKey(sample.SourcePorts.ItemAt(i));
            var type = protocol == Udp ? AttackSignatures.Amplification(port) : AttackType.Unknown;
            if (type != AttackType.Unknown)
            {
                var packets = sample.SourcePorts.WeightAt(i);
                _matching[(int)type] += packets;
                amplified += packets;
            }
        }

        Match(AttackType.UdpFlood, counts.UdpPackets - amplified, expected * mean[(int)DetectionMetric.UdpPps]);
        Match(AttackType.SynFlood, counts.SynPackets, expected * mean[(int)DetectionMetric.SynPps]);
        Match(AttackType.TcpAckFlood, counts.AckPackets, 0);
        Match(AttackType.TcpRstFlood, counts.RstPackets, 0);
        Match(AttackType.IcmpFlood, counts.IcmpPackets, expected * mean[(int)DetectionMetric.IcmpPps]);
        Match(AttackType.GreFlood, counts.GrePackets, 0);
        Match(AttackType.FragmentFlood, counts.FragmentPackets, expected * mean[(int)DetectionMetric.FragmentPps]);
    }

    /// <summary>The attack the evidence points to, with its confidence.</summary>
    public (AttackType Type, double Confidence) Classify()
    {
        if (_excess <= 0)
        {
            return (AttackType.Unknown, 0);
        }

        var bestAmplification = AttackType.Unknown;
        double amplificationShare = 0;
        for (var type = AttackType.DnsAmplification; type <= AttackType.WsDiscoveryAmplification; type++)
        {
            if (Share(type) > amplificationShare)
            {
                amplificationShare = Share(type);
                bestAmplification = type;
            }
        }

        // Large reflected responses arrive fragmented; later fragments carry no port but belong to the reflection.
        var fragments = Share(AttackType.FragmentFlood);
        if (amplificationShare >= 0.3 && amplificationShare + fragments >= 0.6)
        {
            return (bestAmplification, Math.Min(1, amplificationShare + fragments));
        }

        if (fragments >= 0.6)
        {
            return (AttackType.FragmentFlood, Math.Min(1, fragments));
        }

        // The remaining signatures hardly overlap; several strong ones at once are a multi-vector attack.
        var best = AttackType.Unknown;
        double bestShare = 0, strongShares = 0;
        var strong = 0;
        foreach (var type in (ReadOnlySpan<AttackType>)[AttackType.UdpFlood, AttackType.SynFlood, AttackType.TcpAckFlood, AttackType.TcpRstFlood, AttackType.IcmpFlood, AttackType.GreFlood,
            AttackType.DnsAmplification, AttackType.NtpAmplification, AttackType.MemcachedAmplification, AttackType.SsdpAmplification, AttackType.CldapAmplification,
            AttackType.ChargenAmplification, AttackType.SnmpAmplification, AttackType.WsDiscoveryAmplification])
        {
            var share = Share(type);
            if (share > bestShare)
            {
                bestShare = share;
                best = type;
            }

            if (share >= 0.2)
            {
                strong++;
                strongShares += share;
            }
        }

        if (bestShare >= 0.75 || (strong < 2 && bestShare >= 0.4))
        {
            return (best, Math.Min(1, bestShare));
        }

        if (strong >= 2 && strongShares >= 0.6)
        {
            return (AttackType.MultiVector, Math.Min(1, strongShares));
        }

        // Nothing known explains the excess (interface counters carry no composition at all).
        var explained = 0.0;
        foreach (var type in AttackNames.All)
        {
            explained += type == AttackType.FragmentFlood ? 0 : Share(type);
        }

        return (AttackType.Unknown, Math.Clamp(1 - explained, 0, 1));
    }

    private double Share(AttackType type) => _matching[(int)type] / _excess;

    private void Match(AttackType type, double packets, double expected)
    {
        var matching = packets - expected;
        if (matching > 0)
        {
            _matching[(int)type] += matching;
        }
    }
}
