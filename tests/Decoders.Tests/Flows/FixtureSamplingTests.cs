using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Flows;

/// <summary>
/// Sampling rates of real exporters, as their options data (or header) announce them in tshark's decoding:
/// every record of the file must carry the rate its sampler was announced with.
/// </summary>
public sealed class FixtureSamplingTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        // NetFlow v5 header: mode bits set, 0x4064.
        { "pcaps/netflow5/graylog_netflow5.pcap", "*=100" },

        // NetFlow v9 options: sampler 1 is 1:2000, sampler 2 is 1:4000 (random interval, field 50).
        { "pcaps/netflow9/akvorado_v9_multiplesamplingrates-data.pcap", "1=2000,2=4000" },

        // NetFlow v9 inline sampling interval (field 34) in each data record.
        { "pcaps/netflow9/akvorado_v9_samplingrate-data.pcap", "*=2048" },

        // IPFIX options: selector 1 is random 1 out of 256 (309/310), beside a placeholder packet interval of 1.
        { "pcaps/ipfix/pmacct_cisco_ipfix_ipv6_sampling_option.pcap", "1=256" },

        // IPFIX options: packet interval 1, packet space 9: 1 in 10.
        { "pcaps/ipfix/akvorado_ipfix_mpls.pcap", "*=10" },

        // IPFIX options: packet interval 1, packet space 999: 1 in 1000.
        { "pcaps/ipfix/akvorado_ipfix_physicalinterfaces.pcap", "*=1000" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_FixtureWithSamplingInformation_AppliesTheAnnouncedRate(string path, string ratesBySampler)
    {
        SharedFixtures.RequirePresent();
        var expected = ratesBySampler.Split(',').Select(pair => pair.Split('=')).ToDictionary(p => p[0], p => uint.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        var entry = SharedFixtures.Entry(path);
        var decoder = new FlowDecoder(new FlowDecoderOptions { TemplateLifetime = TimeSpan.Zero });
        var sink = new RecordingSink();
        foreach (var file in SharedFixtures.Prerequisites(entry).Append(entry))
        {
            foreach (var datagram in SharedFixtures.Datagrams(file))
            {
                decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink);
            }
        }

        Assert.NotEmpty(sink.Records);
        Assert.All(sink.Records, record =>
            Assert.Equal(expected.TryGetValue(record.SamplerId.ToString(System.Globalization.CultureInfo.InvariantCulture), out var rate) ? rate : expected["*"], record.SamplingRate));
    }
}
