using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;
using static FlowCollector.Detection.Tests.Incidents.Traffic;

namespace FlowCollector.Detection.Tests.Incidents;

/// <summary>
/// A second's work stays proportional to what is open: the open list is published once per second from the records
/// observers were given, and no more than <see cref="DetectionOptions.MaxOpenIncidents"/> incidents are open at once.
/// </summary>
public sealed class OpenIncidentLimitsTests
{
    [Fact]
    public void OpenIncidents_EachSecond_AreTheRecordsObserversReceived()
    {
        var scenario = new Scenario();
        scenario.Run(5, s => Enumerable.Range(10, 40).SelectMany(h => Flood(s, "udp_flood", Host(h), 30_000)));

        var open = scenario.Detector.OpenIncidents.Where(i => i.KeyKind == KeyKind.Destination).ToList();
        Assert.Equal(40, open.Count);
        foreach (var incident in open)
        {
            // The very instance the store and mitigation were handed in the last second: no record was built twice.
            Assert.Same(scenario.Observer.Latest[incident.Id], incident);
        }

        Assert.Equal(open.Select(i => i.Id).OrderDescending(), open.Select(i => i.Id));
    }

    [Fact]
    public void OpenIncidents_IncidentCloses_LeavesTheList()
    {
        var scenario = new Scenario(new DetectionOptions { CooldownSeconds = 3 });
        scenario.Run(3, s => Flood(s, "udp_flood", Host(10), 30_000).Concat(Flood(s, "udp_flood", Host(11), 30_000)));
        scenario.Run(1, s => Flood(s, "udp_flood", Host(10), 40_000).Concat(Flood(s, "udp_flood", Host(11), 30_000)));
        var first = Assert.Single(scenario.Detector.OpenIncidents, i => i.Address == "203.0.113.10");
        Assert.InRange(first.CurrentPps, 39_900, 40_100);

        // Host 11 goes quiet: after the cool-down its incident closes and leaves the list; host 10 stays.
        scenario.Run(6, s => Flood(s, "udp_flood", Host(10), 40_000));
        Assert.DoesNotContain(scenario.Detector.OpenIncidents, i => i.Address == "203.0.113.11");
        Assert.Single(scenario.Detector.OpenIncidents, i => i.Address == "203.0.113.10");
        Assert.Contains(scenario.Observer.Closed, i => i.Address == "203.0.113.11");
    }

    [Fact]
    public void Process_BeyondTheCap_CountsBreachingKeysAndOpensThemWhenThereIsRoom()
    {
        var options = new DetectionOptions { MaxOpenIncidents = 3, CooldownSeconds = 2 };
        var scenario = new Scenario(options);

        // Five hosts flooded in turn, each well over the learning floor: the first three get incidents.
        scenario.Run(1, s => Enumerable.Range(10, 3).SelectMany(h => Flood(s, "udp_flood", Host(h), 30_000)));
        scenario.Run(4, s => Enumerable.Range(10, 5).SelectMany(h => Flood(s, "udp_flood", Host(h), 30_000)));

        Assert.Equal(3, scenario.Detector.OpenIncidents.Count);
        Assert.Equal(["203.0.113.10", "203.0.113.11", "203.0.113.12"], scenario.Detector.OpenIncidents.Select(i => i.Address).Order());
        // Two hosts for four seconds (150,000 pps in all stays under the interface's learning floor).
        Assert.Equal(8, scenario.Detector.Overflow(KeyKind.Destination));
        Assert.Equal(0, scenario.Detector.Overflow(KeyKind.Interface));

        // The first three calm down and close; the other two still breach and now open.
        scenario.Run(5, s => Enumerable.Range(13, 2).SelectMany(h => Flood(s, "udp_flood", Host(h), 30_000)));
        Assert.Contains(scenario.Detector.OpenIncidents, i => i.Address == "203.0.113.13");
        Assert.Contains(scenario.Detector.OpenIncidents, i => i.Address == "203.0.113.14");
        Assert.True(scenario.Detector.OpenIncidents.Count <= 3);
    }

    [Fact]
    public void Validate_MaxOpenIncidents_IsChecked()
    {
        Assert.Contains(new DetectionOptions { MaxOpenIncidents = 0 }.Validate(), e => e.StartsWith("MaxOpenIncidents:", StringComparison.Ordinal));
    }
}
