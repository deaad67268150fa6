using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Exporters;

/// <summary>
/// The decoder's memory is bounded in bytes, not only in counts: templates and early data sets have budgets per
/// exporter and over all exporters, early data expires on the tick's sweep whether or not its exporter sends again,
/// and a full exporter table makes room with senders that never delivered a record.
/// </summary>
public sealed class ExporterTableBudgetTests
{
    private static readonly Field[] Ipv4Flow =
    [
        new(8, 4), new(12, 4), new(7, 2), new(11, 2), new(4, 1), new(6, 1), new(2, 4), new(1, 4), new(10, 2), new(14, 2), new(22, 4), new(21, 4),
    ];

    private static byte[] Ipv4Record() =>
        Wire.Concat(Wire.Ip("192.0.2.1"), Wire.Ip("198.51.100.2"), Wire.U16(3333), Wire.U16(53), Wire.U8(17), Wire.U8(0), Wire.U32(5), Wire.U32(500), Wire.U16(7), Wire.U16(8), Wire.U32(95_000), Wire.U32(99_500));

    /// <summary>A template of <paramref name="fields"/> four-byte fields (about 4 bytes of definition and 4 of plan each).</summary>
    private static byte[] WideTemplates(ushort first, int count, int fields)
    {
        var builder = new NetFlowV9Builder();
        for (var id = first; id < first + count; id++)
        {
            builder.Template(id, Enumerable.Range(0, fields).Select(i => new Field((ushort)(1 + (i % 80)), 4)).ToArray());
        }

        return builder.Build();
    }

    private static NetworkAddress Exporter(int i) => NetworkAddress.FromIPv4(0xC0000200u + (uint)i);

    [Fact]
    public void Templates_AreBoundedInBytesPerExporterAndOverAll_AndWhatDoesNotFitIsCounted()
    {
        var options = new FlowDecoderOptions { MaxTemplateBytesPerExporter = 64 * 1024, MaxTemplateBytes = 160 * 1024 };
        var harness = new DecoderHarness(options);

        // Each 512-field template holds about 7 KB (definition, fields and read steps): 8 fit under one exporter's
        // 64 KB, 22 under everyone's 160 KB.
        for (var exporter = 0; exporter < 4; exporter++)
        {
            for (ushort first = 256; first < 256 + 64; first += 8)
            {
                harness.Decode(WideTemplates(first, 8, 512), Exporter(exporter));
            }
        }

        var table = harness.Decoder.Exporters;
        Assert.InRange(table.TemplateBytes, 120 * 1024, 160 * 1024);
        Assert.All(table.Snapshot(), state => Assert.InRange(state.TemplateBytes, 0, 64 * 1024));
        Assert.Equal(table.Snapshot().Sum(s => s.TemplateBytes), table.TemplateBytes);
        Assert.Equal(4 * 64 - table.TemplateCount, table.TemplatesRejected);

        // Withdrawing a template gives its bytes back.
        var before = table.TemplateBytes;
        harness.Decode(new NetFlowV9Builder().Template(256, [new Field(8, 4)]).Build(), Exporter(0));
        Assert.True(table.TemplateBytes < before);
    }

    [Fact]
    public void Templates_OfAReleasedExporter_GiveTheirBytesBack()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { ExporterIdleLifetime = TimeSpan.FromMinutes(5) });
        harness.Decode(WideTemplates(256, 8, 64), Exporter(1));
        Assert.True(harness.Decoder.Exporters.TemplateBytes > 8 * 64 * 4);

        harness.Decoder.Exporters.Expire(harness.Now + (long)TimeSpan.FromMinutes(10).TotalMilliseconds);

        Assert.Equal(0, harness.Decoder.Exporters.Count);
        Assert.Equal(0, harness.Decoder.Exporters.TemplateBytes);
        Assert.Equal(0, harness.Decoder.Exporters.TemplateCount);
        Assert.Equal(1, harness.Decoder.Exporters.ExportersEvicted);
    }

    [Fact]
    public void EarlyData_IsBoundedOverAllExporters_AndExpiresOnTheSweepWithoutItsExporterSendingAgain()
    {
        var options = new FlowDecoderOptions { MaxPendingBytes = 256 * 1024 };
        var harness = new DecoderHarness(options);
        var early = new NetFlowV9Builder().FlowSet(300, new byte[60_000]).Build();
        for (var exporter = 0; exporter < 40; exporter++)
        {
            harness.Decode(early, Exporter(exporter));
        }

        var table = harness.Decoder.Exporters;
        Assert.InRange(table.PendingBytes, 1, 256 * 1024);
        Assert.Equal(40 - (table.PendingBytes / 65_536), table.PendingRejected);

        // Nobody sends again: the tick's sweep drops it all once its two seconds are up.
        table.Expire(harness.Now + 1_000);
        Assert.True(table.PendingBytes > 0);
        table.Expire(harness.Now + 3_000);
        Assert.Equal(0, table.PendingBytes);
        Assert.All(table.Snapshot(), state => Assert.Equal(0, state.PendingDataSetCount));
    }

    [Fact]
    public void AFullTable_MakesRoomWithSendersThatNeverDeliveredARecord_AndKeepsRealExporters()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxExporters = 100 });
        var real = new NetFlowV9Builder().Template(256, Ipv4Flow).Data(256, Ipv4Record()).Build();
        harness.Decode(real, Exporter(1));
        harness.Decode(real, Exporter(2));

        // 4,100 forged senders of header-shaped garbage fill the table over and over.
        var garbage = new NetFlowV9Builder().FlowSet(300, new byte[16]).Build();
        for (var i = 0; i < 4_100; i++)
        {
            harness.Decode(garbage, NetworkAddress.FromIPv4(0xCB007100u + (uint)i));
        }

        // A real exporter that comes afterwards is heard at once, and the two real ones were never pushed out.
        var late = harness.Decode(real, Exporter(3));
        Assert.Equal(DecodeStatus.Ok, late.Status);
        Assert.Single(late.Records);
        var table = harness.Decoder.Exporters;
        Assert.NotNull(table.Find(Exporter(1)));
        Assert.NotNull(table.Find(Exporter(2)));
        Assert.Equal(100, table.Count);
        Assert.Equal(0, table.ExportersRejected);
    }

    [Fact]
    public void AFullTableOfRealExporters_RefusesANewSender_UntilOneFallsSilent()
    {
        var harness = new DecoderHarness(new FlowDecoderOptions { MaxExporters = 2, ExporterIdleLifetime = TimeSpan.FromMinutes(5) });
        var real = new NetFlowV9Builder().Template(256, Ipv4Flow).Data(256, Ipv4Record()).Build();
        harness.Decode(real, Exporter(1));
        harness.Decode(real, Exporter(2));

        Assert.Equal(DecodeStatus.ExporterRejected, harness.Decode(real, Exporter(3)).Status);
        Assert.Equal(1, harness.Decoder.Exporters.ExportersRejected);
    }

    [Fact]
    public void Options_Budgets_AreValidated()
    {
        Assert.Contains(new FlowDecoderOptions { MaxTemplateBytes = 10 }.Validate(), e => e.StartsWith("MaxTemplateBytes:", StringComparison.Ordinal));
        Assert.Contains(new FlowDecoderOptions { MaxPendingBytes = -1 }.Validate(), e => e.StartsWith("MaxPendingBytes:", StringComparison.Ordinal));
    }
}
