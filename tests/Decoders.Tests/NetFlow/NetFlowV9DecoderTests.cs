using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.NetFlow;

public sealed class NetFlowV9DecoderTests
{
    private static readonly Field[] Ipv4Flow =
    [
        new(8, 4), new(12, 4), new(7, 2), new(11, 2), new(4, 1), new(6, 1), new(2, 4), new(1, 4), new(10, 2), new(14, 2), new(22, 4), new(21, 4),
    ];

    private static byte[] Ipv4Record(string source = "192.0.2.1", string destination = "198.51.100.2", int packets = 5, int bytes = 500, int protocol = 17, int destinationPort = 53) =>
        Wire.Concat(
            Wire.Ip(source),
            Wire.Ip(destination),
            Wire.U16(3333),
            Wire.U16(destinationPort),
            Wire.U8(protocol),
            Wire.U8(0x12),
            Wire.U32((uint)packets),
            Wire.U32((uint)bytes),
            Wire.U16(7),
            Wire.U16(8),
            Wire.U32(95_000),
            Wire.U32(99_500));

    [Fact]
    public void Decode_TemplateThenData_DeliversRecordsWithAbsoluteTimes()
    {
        var harness = new DecoderHarness();
        var datagram = new NetFlowV9Builder(sourceId: 7).Template(256, Ipv4Flow).Data(256, Ipv4Record(), Ipv4Record(packets: 9)).Build();

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(2, records.Count);
        var flow = records[0];
        Assert.Equal(ExportFormat.NetFlowV9, flow.Format);
        Assert.Equal(7u, flow.ObservationDomain);
        Assert.Equal("192.0.2.1", flow.SourceAddress.ToString());
        Assert.Equal("198.51.100.2", flow.DestinationAddress.ToString());
        Assert.Equal((ushort)3333, flow.SourcePort);
        Assert.Equal((ushort)53, flow.DestinationPort);
        Assert.Equal((byte)17, flow.IpProtocol);
        Assert.Equal((ushort)0x12, flow.TcpFlags);
        Assert.Equal(5UL, flow.Packets);
        Assert.Equal(500UL, flow.Bytes);
        Assert.Equal(7u, flow.InputInterface);
        Assert.Equal(8u, flow.OutputInterface);
        Assert.Equal((1_700_000_000L * 1000) - 5_000, flow.StartMilliseconds);
        Assert.Equal((1_700_000_000L * 1000) - 500, flow.EndMilliseconds);
        Assert.Equal(9UL, records[1].Packets);
    }

    [Fact]
    public void Decode_DataBeforeTemplate_IsHeldAndDecodedWhenTheTemplateComes()
    {
        var harness = new DecoderHarness();

        var early = harness.Decode(new NetFlowV9Builder().Data(256, Ipv4Record(packets: 42)).Build());
        harness.Now += 1_000;
        var late = harness.Decode(new NetFlowV9Builder(sequence: 1).Template(256, Ipv4Flow).Build());

        Assert.Equal(DecodeStatus.MissingTemplate, early.Status);
        Assert.Empty(early.Records);
        Assert.Equal(42UL, Assert.Single(late.Records).Packets);
        Assert.Equal(1, harness.State!.Statistics.DataSetsHeld);
        Assert.Equal(1, harness.State.Statistics.DataSetsDecodedLate);
        Assert.Equal(0, harness.State.PendingDataSetCount);
    }

    [Fact]
    public void Decode_DataBeforeTemplate_IsDroppedAndCountedWhenTheTemplateIsTooLate()
    {
        var harness = new DecoderHarness();

        harness.Decode(new NetFlowV9Builder().Data(256, Ipv4Record()).Build());
        harness.Now += 2_500;
        var late = harness.Decode(new NetFlowV9Builder(sequence: 1).Template(256, Ipv4Flow).Build());

        Assert.Empty(late.Records);
        Assert.Equal(1, harness.State!.Statistics.DataSetsDropped);
        Assert.Equal(0, harness.State.Statistics.DataSetsDecodedLate);
    }

    [Fact]
    public void Decode_HeldDataSets_AreBoundedAndTheOldestMakesRoom()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { PendingSetsPerExporter = 4 });

        for (var i = 0; i < 10; i++)
        {
            harness.Decode(new NetFlowV9Builder(sequence: (uint)i).Data(256, Ipv4Record(packets: i)).Build());
        }

        var released = harness.Decode(new NetFlowV9Builder(sequence: 10).Template(256, Ipv4Flow).Build()).Records;

        Assert.Equal([6UL, 7UL, 8UL, 9UL], released.Select(r => r.Packets));
        Assert.Equal(6, harness.State!.Statistics.DataSetsDropped);
    }

    [Fact]
    public void Decode_SameTemplateIdFromTwoSourceIds_KeepsTwoLayouts()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder(sourceId: 1).Template(300, new Field(2, 4), new Field(1, 4)).Build());
        harness.Decode(new NetFlowV9Builder(sourceId: 2).Template(300, new Field(1, 4), new Field(2, 4)).Build());

        var fromOne = Assert.Single(harness.Decode(new NetFlowV9Builder(sourceId: 1, sequence: 1).Data(300, Wire.Concat(Wire.U32(3), Wire.U32(300))).Build()).Records);
        var fromTwo = Assert.Single(harness.Decode(new NetFlowV9Builder(sourceId: 2, sequence: 1).Data(300, Wire.Concat(Wire.U32(300), Wire.U32(3))).Build()).Records);

        Assert.Equal((3UL, 300UL), (fromOne.Packets, fromOne.Bytes));
        Assert.Equal((3UL, 300UL), (fromTwo.Packets, fromTwo.Bytes));
    }

    [Fact]
    public void Decode_SameTemplateIdFromTwoExporters_KeepsTwoLayouts()
    {
        var harness = new DecoderHarness();
        var other = NetworkAddress.Parse("2001:db8::9");
        harness.Decode(new NetFlowV9Builder().Template(300, new Field(2, 4), new Field(1, 4)).Build());
        harness.Decode(new NetFlowV9Builder().Template(300, new Field(1, 4), new Field(2, 4)).Build(), other);

        var data = new NetFlowV9Builder(sequence: 1).Data(300, Wire.Concat(Wire.U32(3), Wire.U32(300))).Build();

        Assert.Equal(3UL, Assert.Single(harness.Decode(data).Records).Packets);
        Assert.Equal(300UL, Assert.Single(harness.Decode(data, other).Records).Packets);
        Assert.Equal(other, Assert.Single(harness.Decode(data, other).Records).Exporter);
    }

    [Fact]
    public void Decode_TemplateRedefined_TheNewLayoutReplacesTheOld()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, new Field(2, 4), new Field(1, 4)).Build());
        harness.Decode(new NetFlowV9Builder(sequence: 1).Template(256, new Field(1, 8), new Field(2, 8)).Build());

        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 2).Data(256, Wire.Concat(Wire.U64(1500), Wire.U64(1))).Build()).Records);

        Assert.Equal((1UL, 1500UL), (flow.Packets, flow.Bytes));
        Assert.Equal(1, harness.State!.Statistics.TemplatesReplaced);
        Assert.Equal(1, harness.State.TemplateCount);
    }

    [Fact]
    public void Decode_OptionsTemplateReusesADataTemplateId_ItReplacesTheDataTemplate()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, Ipv4Flow).Build());
        harness.Decode(new NetFlowV9Builder(sequence: 1).OptionsTemplate(256, [new Field(1, 4)], [new Field(34, 4)]).Build());

        var (status, records) = harness.Decode(new NetFlowV9Builder(sequence: 2).Data(256, Wire.Concat(Wire.U32(0), Wire.U32(100))).Build());

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Empty(records);
        Assert.Equal(1, harness.State!.Statistics.OptionsRecords);
        Assert.Equal(1, harness.State.TemplateCount);
    }

    [Fact]
    public void Decode_IdenticalTemplateRefresh_IsNotRecompiled()
    {
        var harness = new DecoderHarness();
        var template = new NetFlowV9Builder().Template(256, Ipv4Flow).Build();

        harness.Decode(template);
        harness.Decode(template);

        Assert.Equal(1, harness.State!.Statistics.TemplatesAdded);
        Assert.Equal(0, harness.State.Statistics.TemplatesReplaced);
    }

    [Fact]
    public void Decode_TemplateWithNoFields_IsNeverStored()
    {
        var harness = new DecoderHarness();

        var (status, _) = harness.Decode(new NetFlowV9Builder().Template(256).Build());

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(0, harness.State!.TemplateCount);
    }

    [Fact]
    public void Decode_TemplateOfOnlyZeroLengthFields_IsRejectedAndDataCannotSpin()
    {
        var harness = new DecoderHarness();

        var (status, _) = harness.Decode(new NetFlowV9Builder().Template(256, new Field(1, 0), new Field(2, 0)).Data(256, new byte[64]).Build());

        Assert.Equal(DecodeStatus.BadTemplate, status);
        Assert.Equal(0, harness.State!.TemplateCount);
    }

    [Fact]
    public void Decode_HeaderCountLies_EveryFlowSetIsStillRead()
    {
        var harness = new DecoderHarness();
        var datagram = new NetFlowV9Builder(count: 1).Template(256, Ipv4Flow).Data(256, Ipv4Record(), Ipv4Record()).Data(256, Ipv4Record()).Build();

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(3, records.Count);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(128)]
    [InlineData(255)]
    public void Decode_ReservedFlowSetId_IsSkippedByItsLength(int flowSetId)
    {
        var harness = new DecoderHarness();
        var datagram = new NetFlowV9Builder().FlowSet((ushort)flowSetId, new byte[13]).Template(256, Ipv4Flow).Data(256, Ipv4Record()).Build();

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Single(records);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(40)]
    public void Decode_PaddingOfAnyLengthAfterRecords_IsNotARecord(int padding)
    {
        var harness = new DecoderHarness();
        var datagram = new NetFlowV9Builder().Template(256, Ipv4Flow).FlowSet(256, Wire.Concat(Ipv4Record(), new byte[padding])).Build();

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Single(records);
    }

    [Fact]
    public void Decode_DatagramZeroFilledAfterTheLastFlowSet_IsOk()
    {
        var harness = new DecoderHarness();
        var datagram = Wire.Concat(new NetFlowV9Builder().Template(256, Ipv4Flow).Data(256, Ipv4Record()).Build(), new byte[200]);

        var (status, records) = harness.Decode(datagram);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Single(records);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5000)]
    public void Decode_FlowSetLengthOutOfBounds_StopsWithBadSetLength(int length)
    {
        var harness = new DecoderHarness();
        var datagram = new NetFlowV9Builder().Template(256, Ipv4Flow).Build();
        var broken = Wire.Concat(datagram, Wire.U16(256), Wire.U16(length), new byte[8]);

        Assert.Equal(DecodeStatus.BadSetLength, harness.Decode(broken).Status);
        Assert.Equal(1, harness.State!.TemplateCount);
    }

    [Fact]
    public void Decode_VariableLengthFieldInV9_IsSkippedByItsPrefix()
    {
        // H3C NetStream sends variable-length strings in v9 with the IPFIX length prefix.
        var harness = new DecoderHarness();
        var template = new NetFlowV9Builder().Template(3281, new Field(8, 4), new Field(96, Field.Variable), new Field(2, 4), new Field(95, Field.Variable), new Field(1, 4)).Build();
        var record = Wire.Concat(Wire.Ip("203.0.113.5"), Wire.VariableLength("interface-name"u8.ToArray()), Wire.U32(4), Wire.VariableLength(new byte[300]), Wire.U32(400));

        harness.Decode(template);
        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 1).Data(3281, record).Build()).Records);

        Assert.Equal("203.0.113.5", flow.SourceAddress.ToString());
        Assert.Equal((4UL, 400UL), (flow.Packets, flow.Bytes));
    }

    [Fact]
    public void Decode_ReducedSizeAndTotalCounters_AreRead()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, new Field(8, 4), new Field(85, 3), new Field(86, 1)).Build());

        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 1).Data(256, Wire.Concat(Wire.Ip("192.0.2.3"), Wire.U24(70_000), Wire.U8(200))).Build()).Records);

        Assert.Equal((200UL, 70_000UL), (flow.Packets, flow.Bytes));
    }

    [Fact]
    public void Decode_DeltaAndTotalCountersTogether_PrefersTheDelta()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, new Field(8, 4), new Field(85, 8), new Field(1, 4)).Build());

        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 1).Data(256, Wire.Concat(Wire.Ip("192.0.2.3"), Wire.U64(1_000_000), Wire.U32(1500))).Build()).Records);

        Assert.Equal(1500UL, flow.Bytes);
    }

    [Fact]
    public void Decode_CiscoIcmpWithoutIcmpFields_TypeAndCodeComeFromTheDestinationPort()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, Ipv4Flow).Build());

        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 1).Data(256, Ipv4Record(protocol: 1, destinationPort: 0x0800)).Build()).Records);

        Assert.Equal((8, 0), (flow.IcmpType, flow.IcmpCode));
    }

    [Fact]
    public void Decode_UptimeWrap_FirstSwitchedBeforeTheWrapStaysInThePast()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder().Template(256, new Field(8, 4), new Field(1, 4), new Field(22, 4), new Field(21, 4)).Build());

        var data = new NetFlowV9Builder(sequence: 1, sysUptime: 1_000).Data(256, Wire.Concat(Wire.Ip("192.0.2.3"), Wire.U32(1), Wire.U32(uint.MaxValue - 999), Wire.U32(500))).Build();
        var flow = Assert.Single(harness.Decode(data).Records);

        Assert.Equal((1_700_000_000L * 1000) - 2_000, flow.StartMilliseconds);
        Assert.Equal((1_700_000_000L * 1000) - 500, flow.EndMilliseconds);
    }

    [Fact]
    public void Decode_SamplingFromOptionsData_IsPickedByTheRecordsSamplerId()
    {
        var harness = new DecoderHarness();
        var options = new NetFlowV9Builder(sourceId: 3)
            .OptionsTemplate(257, [new Field(1, 4)], [new Field(48, 1), new Field(49, 1), new Field(50, 4)])
            .Data(257, Wire.Concat(Wire.U32(0), Wire.U8(1), Wire.U8(2), Wire.U32(100)), Wire.Concat(Wire.U32(0), Wire.U8(2), Wire.U8(2), Wire.U32(2000)))
            .Template(256, new Field(8, 4), new Field(1, 4), new Field(48, 1))
            .Build();
        harness.Decode(options);

        var records = harness.Decode(new NetFlowV9Builder(sourceId: 3, sequence: 1)
            .Data(256, Wire.Concat(Wire.Ip("192.0.2.1"), Wire.U32(1), Wire.U8(1)), Wire.Concat(Wire.Ip("192.0.2.2"), Wire.U32(1), Wire.U8(2)), Wire.Concat(Wire.Ip("192.0.2.3"), Wire.U32(1), Wire.U8(9)))
            .Build()).Records;

        Assert.Equal([100u, 2000u, 1u], records.Select(r => r.SamplingRate));
        Assert.Equal([1u, 2u, 9u], records.Select(r => r.SamplerId));
    }

    [Fact]
    public void Decode_SamplingOptionsOfOneSourceId_DoNotApplyToAnotherExporter()
    {
        var harness = new DecoderHarness();
        var options = new NetFlowV9Builder()
            .OptionsTemplate(257, [new Field(1, 4)], [new Field(34, 4), new Field(35, 1)])
            .Data(257, Wire.Concat(Wire.U32(0), Wire.U32(512), Wire.U8(2)))
            .Template(256, new Field(8, 4), new Field(1, 4))
            .Build();
        var data = new NetFlowV9Builder(sequence: 1).Data(256, Wire.Concat(Wire.Ip("192.0.2.1"), Wire.U32(1))).Build();
        var other = NetworkAddress.Parse("192.0.2.99");

        harness.Decode(options);
        harness.Decode(new NetFlowV9Builder().Template(256, new Field(8, 4), new Field(1, 4)).Build(), other);

        Assert.Equal(512u, Assert.Single(harness.Decode(data).Records).SamplingRate);
        Assert.Equal(1u, Assert.Single(harness.Decode(data, other).Records).SamplingRate);
    }

    [Fact]
    public void Decode_InlineSamplingInterval_WinsOverOptions()
    {
        var harness = new DecoderHarness();
        harness.Decode(new NetFlowV9Builder()
            .OptionsTemplate(257, [new Field(1, 4)], [new Field(34, 4)])
            .Data(257, Wire.Concat(Wire.U32(0), Wire.U32(512)))
            .Template(256, new Field(8, 4), new Field(1, 4), new Field(34, 4))
            .Build());

        var flow = Assert.Single(harness.Decode(new NetFlowV9Builder(sequence: 1).Data(256, Wire.Concat(Wire.Ip("192.0.2.1"), Wire.U32(1), Wire.U32(64))).Build()).Records);

        Assert.Equal(64u, flow.SamplingRate);
    }

    [Fact]
    public void Decode_DatagramsMissing_CountsLostExportPackets()
    {
        var harness = new DecoderHarness();
        var template = new NetFlowV9Builder().Template(256, Ipv4Flow);

        foreach (var sequence in new uint[] { 10, 11, 15, 16, 14 })
        {
            harness.Decode(new NetFlowV9Builder(sourceId: 4, sequence: sequence).Template(256, Ipv4Flow).Build());
        }

        var statistics = harness.State!.Statistics;
        Assert.Equal(3, statistics.SequenceLost);
        Assert.Equal(1, statistics.SequenceLate);
    }

    [Fact]
    public void Decode_TemplateNotRefreshed_ExpiresAfterItsLifetime()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { TemplateLifetime = TimeSpan.FromMinutes(10) });
        harness.Decode(new NetFlowV9Builder().Template(256, Ipv4Flow).Build());

        harness.Now += (long)TimeSpan.FromMinutes(9).TotalMilliseconds;
        var stillKnown = harness.Decode(new NetFlowV9Builder(sequence: 1).Data(256, Ipv4Record()).Build());
        harness.Now += (long)TimeSpan.FromMinutes(11).TotalMilliseconds;
        var forgotten = harness.Decode(new NetFlowV9Builder(sequence: 2).Data(256, Ipv4Record()).Build());

        Assert.Single(stillKnown.Records);
        Assert.Equal(DecodeStatus.MissingTemplate, forgotten.Status);
        Assert.Equal(1, harness.State!.Statistics.TemplatesExpired);
    }

    [Fact]
    public void Decode_BogusTemplateFlood_IsCappedPerExporterAndCounted()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxTemplatesPerExporter = 16 });

        for (var id = 256; id < 356; id++)
        {
            harness.Decode(new NetFlowV9Builder(sequence: (uint)id).Template((ushort)id, new Field(1, 4), new Field((ushort)id, 2)).Build());
        }

        Assert.Equal(16, harness.State!.TemplateCount);
        Assert.Equal(84, harness.State.Statistics.TemplatesRejected);
        Assert.Equal(84, harness.State.Statistics.CountOf(DecodeStatus.TemplateRejected));
    }

    [Fact]
    public void Decode_BogusTemplateFloodFromManyExporters_IsCappedInTotal()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxTemplates = 50, MaxExporters = 1000 });

        for (var i = 0; i < 200; i++)
        {
            var exporter = NetworkAddress.FromIPv4(0xC6336400u + (uint)i);
            harness.Decode(new NetFlowV9Builder().Template(256, new Field(1, 4)).Build(), exporter);
        }

        Assert.Equal(50, harness.Decoder.Exporters.TemplateCount);
        Assert.Equal(150, harness.Decoder.Exporters.TemplatesRejected);
    }

    [Fact]
    public void Decode_TooManyFieldsInATemplate_IsRejected()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxFieldsPerTemplate = 8 });

        var status = harness.Decode(new NetFlowV9Builder().Template(256, [.. Enumerable.Repeat(new Field(1, 4), 9)]).Build()).Status;

        Assert.Equal(DecodeStatus.TemplateRejected, status);
        Assert.Equal(0, harness.State!.TemplateCount);
    }

    [Fact]
    public void Decode_ExporterTableFullOfProductiveExporters_ForgetsIdleOnesButRejectsWhenAllAreActive()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxExporters = 2, ExporterIdleLifetime = TimeSpan.FromMinutes(5) });
        var template = new NetFlowV9Builder().Template(256, Ipv4Flow).Data(256, Ipv4Record()).Build();
        harness.Decode(template, NetworkAddress.Parse("192.0.2.1"));
        harness.Decode(template, NetworkAddress.Parse("192.0.2.2"));

        var rejected = harness.Decode(template, NetworkAddress.Parse("192.0.2.3")).Status;
        harness.Now += (long)TimeSpan.FromMinutes(6).TotalMilliseconds;
        harness.Decode(template, NetworkAddress.Parse("192.0.2.2"));
        var admitted = harness.Decode(template, NetworkAddress.Parse("192.0.2.3")).Status;

        Assert.Equal(DecodeStatus.ExporterRejected, rejected);
        Assert.Equal(DecodeStatus.Ok, admitted);
        Assert.Null(harness.Decoder.Exporters.Find(NetworkAddress.Parse("192.0.2.1")));
        Assert.Equal(1, harness.Decoder.Exporters.ExportersRejected);
        Assert.Equal(2, harness.Decoder.Exporters.TemplateCount);
    }
}
