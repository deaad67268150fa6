using FlowCollector.Decoders;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>An open incident as the detector tracks it: mutable, owned by the detection thread.</summary>
internal sealed class Incident
{
    private TopItems<uint> _ports;
    private TopItems<NetworkAddress> _sources;

    public Incident(long id, KeyDescription key, long firstSecond, DateTimeOffset openedAt, DetectionMetric thresholdMetric, double threshold)
    {
        Id = id;
        Key = key;
        FirstSecond = firstSecond;
        OpenedAt = openedAt;
        ThresholdMetric = thresholdMetric;
        Threshold = threshold;
    }

    public long Id { get; }

    public KeyDescription Key { get; }

    public long FirstSecond { get; }

    public DateTimeOffset OpenedAt { get; }

    public DetectionMetric ThresholdMetric { get; set; }

    public double Threshold { get; set; }

    public AttackEvidence Evidence { get; private set; } = new();

    /// <summary>Whether a packet sample described it: its type, tops and victims come from packets, not counters.</summary>
    public bool Described { get; private set; }

    public IReadOnlyList<VictimRate> Victims { get; private set; } = [];

    public AttackType Type { get; set; }

    public AttackType Vector { get; set; }

    /// <summary>A multi-vector attack's vectors, strongest first; empty for every other type.</summary>
    public IReadOnlyList<AttackType> Vectors { get; set; } = [];

    public double Confidence { get; set; }

    public Severity Severity { get; set; }

    /// <summary>The highest severity observers were told of: a rise above it is an escalation.</summary>
    public Severity PublishedSeverity { get; set; }

    public double PeakPps { get; set; }

    public double PeakBps { get; set; }

    public double CurrentPps { get; set; }

    public double CurrentBps { get; set; }

    /// <summary>The capacity of the link the incident's traffic crosses, in bits per second; 0 when unknown.</summary>
    public double CapacityBps { get; set; }

    public DateTimeOffset? ClosedAt { get; set; }

    public CloseReason? CloseReason { get; set; }

    public int Reopened { get; set; }

    /// <summary>Consecutive seconds under threshold × hysteresis.</summary>
    public int CalmSeconds { get; set; }

    /// <summary>Breaching seconds whose tops were merged.</summary>
    public int TopSeconds { get; private set; }

    public void AddTops(in TrafficSample sample)
    {
        _ports.Merge(sample.SourcePorts);
        _sources.Merge(sample.Sources);
        TopSeconds++;
    }

    /// <summary>
    /// Takes a packet sample's composition in place of what the counters gave (none): the evidence, the tops and
    /// the victims are the samples' from now on. A first sample replaces; a later one (the victims followed) adds
    /// its evidence and tops, and its victims, with their rates now, replace the earlier ones. Returns whether what
    /// the incident says changed in a way that matters to mitigation (its type, its vectors, or its heaviest victim).
    /// </summary>
    public bool Describe(PacketSample sample)
    {
        var before = (Type, Victims.Count > 0 ? Victims[0].Address : null);
        var vectorsBefore = Vectors;
        if (!sample.Follows || !Described)
        {
            Evidence = new AttackEvidence();
            _ports = default;
            _sources = default;
            TopSeconds = 0;
        }

        Evidence.Add(sample.Total, default);
        _ports.Merge(sample.Total.SourcePorts);
        _sources.Merge(sample.Total.Sources);
        TopSeconds++;
        if (sample.Victims.Count > 0)
        {
            Victims = sample.Victims;
        }

        Described = true;
        var verdict = Evidence.Classify();
        (Type, Confidence, Vectors) = (verdict.Type, verdict.Confidence, verdict.Vectors);
        return before != (Type, Victims.Count > 0 ? Victims[0].Address : null) || !vectorsBefore.SequenceEqual(Vectors);
    }

    public IncidentRecord ToRecord(DateTimeOffset now)
    {
        var seconds = Math.Max(1, TopSeconds);
        var ports = _ports.ToSortedArray();
        var sources = _sources.ToSortedArray();
        var portRates = new PortRate[ports.Length];
        for (var i = 0; i < ports.Length; i++)
        {
            var (protocol, port) = TrafficSample.SplitPortKey(ports[i].Item);
            portRates[i] = new PortRate(protocol switch { 6 => "tcp", 17 => "udp", _ => protocol.ToString(System.Globalization.CultureInfo.InvariantCulture) }, port, Math.Round(ports[i].Weight / seconds, 1));
        }

        var sourceRates = new SourceRate[sources.Length];
        for (var i = 0; i < sources.Length; i++)
        {
            sourceRates[i] = new SourceRate(sources[i].Item.ToString(), Math.Round(sources[i].Weight / seconds, 1));
        }

        return new IncidentRecord
        {
            Id = Id,
            Key = Key.Text,
            KeyKind = Key.Kind,
            Node = Key.Node,
            Source = Key.Source,
            Exporter = Key.Exporter,
            Interface = Key.Interface,
            Direction = Key.Direction,
            Address = Victims.Count > 0 ? Victims[0].Address : Key.Address,
            AttackType = Type,
            Vector = Type == AttackType.CarpetBombing ? Vector : null,
            Vectors = Vectors,
            Confidence = Math.Round(Confidence, 3),
            Severity = Severity,
            OpenedAt = OpenedAt,
            ClosedAt = ClosedAt,
            UpdatedAt = now,
            FirstSecond = FirstSecond,
            PeakPps = Math.Round(PeakPps, 1),
            PeakBps = Math.Round(PeakBps),
            CurrentPps = Math.Round(CurrentPps, 1),
            CurrentBps = Math.Round(CurrentBps),
            CapacityBps = CapacityBps,
            Threshold = Math.Round(Threshold, 1),
            ThresholdMetric = ThresholdMetric,
            TopSourcePorts = portRates,
            TopSources = sourceRates,
            Victims = Victims,
            Reopened = Reopened,
            CloseReason = CloseReason,
        };
    }
}
