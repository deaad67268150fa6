using FlowCollector.Detection.Incidents;

namespace FlowCollector.Detection.Tests.Incidents;

public sealed class AttackSignaturesTests
{
    [Fact]
    public void TryGet_EveryNamedAttackType_HasOneSignatureOfItsOwn()
    {
        var withoutSignature = new[] { AttackType.Unknown, AttackType.CarpetBombing, AttackType.MultiVector };

        foreach (var type in AttackNames.All)
        {
            Assert.Equal(!withoutSignature.Contains(type), AttackSignatures.TryGet(type, out var signature));
            if (!withoutSignature.Contains(type))
            {
                Assert.Equal(type, signature.Type);
            }
        }
    }

    [Theory]
    [InlineData(53, "dns_amplification")]
    [InlineData(123, "ntp_amplification")]
    [InlineData(11211, "memcached_amplification")]
    [InlineData(1900, "ssdp_amplification")]
    [InlineData(389, "cldap_amplification")]
    [InlineData(19, "chargen_amplification")]
    [InlineData(161, "snmp_amplification")]
    [InlineData(3702, "ws_discovery_amplification")]
    [InlineData(443, "unknown")]
    public void Amplification_SourcePort_NamesTheReflectionAttackWhoseRuleMatchesIt(int port, string name)
    {
        var type = AttackSignatures.Amplification((ushort)port);

        Assert.Equal(name, AttackNames.Name(type));
        Assert.True(AttackNames.TryParse(name, out AttackType parsed) && parsed == type);
        if (type != AttackType.Unknown)
        {
            Assert.True(AttackSignatures.TryGet(type, out var signature));
            Assert.Equal((AttackSignatures.Udp, (ushort?)port), (signature.Protocol!.Value, signature.SourcePort));
        }
    }
}
