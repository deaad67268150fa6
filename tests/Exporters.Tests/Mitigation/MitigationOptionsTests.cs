using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Mitigation;

namespace FlowCollector.Exporters.Tests.Mitigation;

public sealed class MitigationOptionsTests
{
    [Fact]
    public void Validate_BadBackendSettings_NameTheKey()
    {
        var options = new MitigationOptions
        {
            Enabled = true,
            Policy = new SeverityPolicy { High = ["nftables", "blackhole-everything"] },
            ExaBgp = new ExaBgpOptions { Communities = ["65535:666", "nonsense"], NextHop = "not-an-address", AckTimeoutMilliseconds = 5 },
            Nftables = new NftablesOptions { Table = "bad table", Backend = "pf" },
            MaxRules = -1,
        };
        var errors = options.Validate();

        // The planner's checks come with the backends'.
        Assert.Contains(errors, e => e.StartsWith("Policy:High: 'blackhole-everything'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:Communities: 'nonsense'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:NextHop: 'not-an-address'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:AckTimeoutMilliseconds:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Nftables:Table:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Nftables:Backend:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MaxRules:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ExaBgp:Socket:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RtbhInAPolicyWithoutANextHop_NamesTheNextHop()
    {
        var options = new MitigationOptions { Enabled = true, ExaBgp = new ExaBgpOptions { Socket = "/run/flowcollector/exabgp.sock" } };

        Assert.Contains(options.Validate(), e => e.StartsWith("ExaBgp:NextHop: RTBH is in a policy", StringComparison.Ordinal));
        options.Policy.Critical = ["nftables", "flowspec"];
        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Validate_Defaults_AreValid() => Assert.Empty(new MitigationOptions().Validate());
}
