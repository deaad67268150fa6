using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Incidents;

/// <summary>A destination's share of a packet sample, per second.</summary>
public sealed record VictimRate(string Address, double Pps);

/// <summary>
/// What a short capture on an interface found while its incident was open (router mode, where the counters carry no
/// composition): the traffic's composition over the sample, and the destinations that took most of it.
/// </summary>
/// <param name="IncidentId">The interface incident the sample describes.</param>
/// <param name="Total">The sample's traffic, counted as packets per second over its length, with its top source ports and sources.</param>
/// <param name="Victims">Destinations heaviest first, as many as hold a large share of the sample.</param>
/// <param name="Packets">Frames captured.</param>
/// <param name="Seconds">How long the capture ran.</param>
/// <param name="Follows">A later sample of the same incident (its victims followed while it stays open): its evidence adds to the first's.</param>
public sealed record PacketSample(long IncidentId, TrafficSample Total, IReadOnlyList<VictimRate> Victims, int Packets, double Seconds, bool Follows = false);
