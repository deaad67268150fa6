using FlowCollector.Detection.Rates;
using FlowCollector.Detection.Baselines;
using static FlowCollector.Detection.Tests.Incidents.Traffic;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>The capacity an incident is judged against: the link's where it is known, the largest known link for a victim.</summary>
public sealed class LinkCapacityTests
{
    [Fact]
    public void Process_DestinationIncident_CarriesTheLargestKnownLink()
    {
        var scenario = new Scenario(new DetectionOptions { DefaultCapacityBps = 10e9 });
        scenario.Capacities.Report(Scenario.Router, 9, 100e9);

        scenario.Run(3, s => Flood(s, "dns_amplification", Host(10), 100_000));

        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("destination")).Id];
        Assert.Equal(100e9, incident.CapacityBps);
        Assert.InRange(incident.PeakBps, 1.1e9, 1.2e9);
    }

    [Fact]
    public void Process_InterfaceNearItsSpeed_IsHighJustOverItsThreshold()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 10 });

        // Interface 3 is a 1 Gbit/s port, learned at 100 kpps of 512-byte packets (410 Mbit/s): its threshold is 150 kpps.
        scenario.Capacities.Report(Scenario.Router, 3, 1e9);
        scenario.Run(40, s => Flood(s, "udp_flood", Host(10), 100_000));
        scenario.Run(3, s => Flood(s, "udp_flood", Host(10), 160_000));

        // 7 % over the threshold alone would be low; 655 Mbit/s is two thirds of the port.
        var incident = scenario.Observer.Latest[Assert.Single(scenario.Opened("interface"), i => i.Direction == "in").Id];
        Assert.Equal(1e9, incident.CapacityBps);
        Assert.Equal(FlowCollector.Detection.Incidents.Severity.High, incident.Severity);
    }

    [Fact]
    public void Process_InterfaceSecondBeyondItsLink_IsNotJudged()
    {
        var scenario = new Scenario(new DetectionOptions { LearningSeconds = 10 });
        scenario.Capacities.Report(Scenario.Router, 3, 1e9);
        scenario.Run(20, s => Normal(s, Host(10), 300));

        // Eight records of 400 Mbit/s each: each could be real on a 1 Gbit/s port, together they are 3.2 Gbit/s.
        scenario.Run(5, s => Normal(s, Host(10), 300).Concat(Flood(s, "udp_flood", Host(10), 780_000)));

        Assert.DoesNotContain(scenario.Observer.Opened, i => i.KeyKind == KeyKind.Interface && i.Interface == "3");
        Assert.Equal(5, scenario.Detector.ImplausibleSeconds);

        // The destination is judged on its own: it names no link, and the flood is a flood.
        Assert.Single(scenario.Opened("destination"));
    }
}
