using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>What the classifier named: the type, its confidence and, for a multi-vector attack, each vector, strongest first.</summary>
public readonly record struct AttackVerdict(AttackType Type, double Confidence, IReadOnlyList<AttackType> Vectors)
{
    public AttackVerdict(AttackType type, double confidence)
        : this(type, confidence, [])
    {
    }
}

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

    /// <summary>A signature with this share of the excess is one of the attack's vectors.</summary>
    private const double StrongShare = 0.2;

    /// <summary>
    /// Fragments go to a reflection whose first fragments are at least this share of them: an answer fragments into
    /// at most about 45 packets (64 KiB over a 1,500-byte MTU), and a fragment flood that happens to come with a
    /// little reflection is not the reflection.
    /// </summary>
    private const double MinimumFirstFragmentShare = 1.0 / 45;
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

        // Non-first fragments carry no ports: they are counted as fragments (and attributed below), not as a UDP flood.
        // Fragments of other protocols are rare enough that all of them are taken to be UDP's here.
        Match(AttackType.UdpFlood, counts.UdpPackets - amplified - counts.FragmentPackets, expected * mean[(int)DetectionMetric.UdpPps]);
        Match(AttackType.SynFlood, counts.SynPackets, expected * mean[(int)DetectionMetric.SynPps]);
        Match(AttackType.TcpAckFlood, counts.AckPackets, 0);
        Match(AttackType.TcpRstFlood, counts.RstPackets, 0);
        Match(AttackType.IcmpFlood, counts.IcmpPackets, expected * mean[(int)DetectionMetric.IcmpPps]);
        Match(AttackType.GreFlood, counts.GrePackets, 0);
        Match(AttackType.FragmentFlood, counts.FragmentPackets, expected * mean[(int)DetectionMetric.FragmentPps]);
    }

    /// <summary>Signatures that may be vectors of one attack, in the order a tie is broken.</summary>
    private static readonly AttackType[] Vectors =
    [
        AttackType.UdpFlood, AttackType.SynFlood, AttackType.TcpAckFlood, AttackType.TcpRstFlood, AttackType.IcmpFlood, AttackType.GreFlood,
        AttackType.DnsAmplification, AttackType.NtpAmplification, AttackType.MemcachedAmplification, AttackType.SsdpAmplification, AttackType.CldapAmplification,
        AttackType.ChargenAmplification, AttackType.SnmpAmplification, AttackType.WsDiscoveryAmplification, AttackType.FragmentFlood,
    ];

    /// <summary>
    /// The attack the evidence points to, with its confidence; a multi-vector attack with its vectors. Allocates only
    /// for a multi-vector verdict.
    /// </summary>
    public AttackVerdict Classify()
    {
        if (_excess <= 0)
        {
            return new AttackVerdict(AttackType.Unknown, 0);
        }

        Span<double> shares = stackalloc double[Kinds];
        for (var i = 0; i < Kinds; i++)
        {
            shares[i] = _matching[i] / _excess;
        }

        // Large reflected responses arrive fragmented, and exporters see the ports of the first fragment alone (a
        // 4,000-byte answer is one packet from port 53 and two without ports): the fragments belong to the reflection
        // that their first fragments name, when one does.
        var bestAmplification = AttackType.Unknown;
        for (var type = AttackType.DnsAmplification; type <= AttackType.WsDiscoveryAmplification; type++)
        {
            if (shares[(int)type] > (bestAmplification == AttackType.Unknown ? 0 : shares[(int)bestAmplification]))
            {
                bestAmplification = type;
            }
        }

        if (bestAmplification != AttackType.Unknown && shares[(int)bestAmplification] >= MinimumFirstFragmentShare * shares[(int)AttackType.FragmentFlood])
        {
            shares[(int)bestAmplification] += shares[(int)AttackType.FragmentFlood];
            shares[(int)AttackType.FragmentFlood] = 0;
        }

        // The signatures hardly overlap; several strong ones at once are a multi-vector attack.
        var best = AttackType.Unknown;
        double bestShare = 0, strongShares = 0;
        var strong = 0;
        foreach (var type in Vectors)
        {
            var share = shares[(int)type];
            if (share > bestShare)
            {
                bestShare = share;
                best = type;
            }

            if (share >= StrongShare)
            {
                strong++;
                strongShares += share;
            }
        }

        if (bestShare >= 0.75 || (strong < 2 && bestShare >= 0.4))
        {
            return new AttackVerdict(best, Math.Min(1, bestShare));
        }

        if (strong >= 2 && strongShares >= 0.6)
        {
            // Strongest first (an insertion sort: a tie keeps the table's order).
            var vectors = new AttackType[strong];
            var count = 0;
            foreach (var type in Vectors)
            {
                if (shares[(int)type] < StrongShare)
                {
                    continue;
                }

                var at = count++;
                while (at > 0 && shares[(int)vectors[at - 1]] < shares[(int)type])
                {
                    vectors[at] = vectors[at - 1];
                    at--;
                }

                vectors[at] = type;
            }

            return new AttackVerdict(AttackType.MultiVector, Math.Min(1, strongShares), vectors);
        }

        // Nothing known explains the excess (interface counters carry no composition at all).
        var explained = 0.0;
        foreach (var type in Vectors)
        {
            explained += type == AttackType.FragmentFlood ? 0 : shares[(int)type];
        }

        return new AttackVerdict(AttackType.Unknown, Math.Clamp(1 - explained, 0, 1));
    }

    private void Match(AttackType type, double packets, double expected)
    {
        var matching = packets - expected;
        if (matching > 0)
        {
            _matching[(int)type] += matching;
        }
    }
}
