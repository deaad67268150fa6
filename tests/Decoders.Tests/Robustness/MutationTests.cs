using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;
using SharpPcap;
using SharpPcap.LibPcap;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Robustness;

/// <summary>
/// Hostile input never escapes the decoders as an exception, always ends in a defined <see cref="DecodeStatus"/>,
/// and cannot grow their memory past the configured bounds.
/// </summary>
public sealed class MutationTests
{
    private const int Seed = 20_261_129;
    private const int MutatedDatagrams = 1_000_000;

    [Fact]
    public void Decode_AMillionMutatedDatagrams_EachEndsInAStatusAndMemoryStaysBounded()
    {
        SharedFixtures.RequirePresent();
        var corpus = Corpus();
        var options = new FlowDecoderOptions { MaxExporters = 64, MaxTemplatesPerExporter = 256, MaxTemplates = 4096, MaxFieldsPerTemplate = 512 };
        var decoder = new FlowDecoder(options);
        var mutator = new FlowMutator(Seed);
        var exporters = Enumerable.Range(1, 16).Select(i => NetworkAddress.FromIPv4(0xC0000200u + (uint)i)).ToArray();
        var output = new byte[65_535];
        var byStatus = new long[Enum.GetValues<DecodeStatus>().Length];
        var sink = new CountingSink();
        var now = 1_700_000_000_000L;

        // Prime the caches with the valid corpus so that mutations reach data decoding with known templates.
        foreach (var datagram in corpus)
        {
            decoder.Decode(datagram, exporters[0], now, ref sink);
        }

        GC.Collect();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < MutatedDatagrams; i++)
        {
            var seed = corpus[mutator.Random.Next(corpus.Count)];
            var length = mutator.Mutate(seed, output);

            // Mostly the known exporters; now and then a stranger, to fill and evict the exporter table.
            var exporter = mutator.Random.Next(100) == 0 ? NetworkAddress.FromIPv4((uint)mutator.Random.Next()) : exporters[mutator.Random.Next(exporters.Length)];
            var status = decoder.Decode(output.AsSpan(0, length), exporter, now, ref sink);
            byStatus[(int)status]++;
            now += mutator.Random.Next(0, 20);
        }

        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.Equal(MutatedDatagrams, byStatus.Sum());
        Assert.All(
            new[] { DecodeStatus.Ok, DecodeStatus.Truncated, DecodeStatus.BadCount, DecodeStatus.BadSetLength, DecodeStatus.BadTemplate, DecodeStatus.TemplateRejected, DecodeStatus.MissingTemplate, DecodeStatus.BadRecord, DecodeStatus.BadLength },
            status => Assert.True(byStatus[(int)status] > 0, $"no mutation ended in {status}"));
        Assert.True(sink.Records > 0);
        Assert.InRange(decoder.Exporters.Count, 1, options.MaxExporters);
        Assert.InRange(decoder.Exporters.TemplateCount, 0, options.MaxTemplates);
        Assert.All(decoder.Exporters.Snapshot(), state =>
        {
            Assert.InRange(state.TemplateCount, 0, options.MaxTemplatesPerExporter);
            Assert.InRange(state.PendingDataSetCount, 0, options.PendingSetsPerExporter);
        });
        Assert.True(decoder.Exporters.TemplatesRejected > 0, "the template floods should have hit a limit");
        Assert.True(memoryAfter - memoryBefore < 64L * 1024 * 1024, $"managed memory grew by {(memoryAfter - memoryBefore) / 1024} KiB");
    }

    [Fact]
    public void Decode_EveryPrefixOfEveryFixtureDatagram_EndsInAStatus()
    {
        SharedFixtures.RequirePresent();
        var prefixes = 0L;
        foreach (var entry in SharedFixtures.Manifest.Where(e => IsFlowFolder(e.Folder)))
        {
            // Prime with the whole file so that prefixes of data sets meet their templates.
            var decoder = new FlowDecoder(new FlowDecoderOptions { TemplateLifetime = TimeSpan.Zero });
            var sink = new CountingSink();
            var datagrams = SharedFixtures.Prerequisites(entry).Append(entry).SelectMany(SharedFixtures.Datagrams).ToList();
            foreach (var datagram in datagrams)
            {
                decoder.Decode(datagram.Payload, datagram.Exporter, datagram.ReceivedMilliseconds, ref sink);
            }

            foreach (var datagram in datagrams)
            {
                for (var length = 0; length < datagram.Payload.Length; length++)
                {
                    var status = decoder.Decode(datagram.Payload.AsSpan(0, length), datagram.Exporter, datagram.ReceivedMilliseconds, ref sink);
                    Assert.True(Enum.IsDefined(status));
                    prefixes++;
                }
            }
        }

        Assert.True(prefixes > 100_000, $"only {prefixes} prefixes");
    }

    [Fact]
    public void Decode_AMillionMutatedSFlowDatagramsAndMirroredFrames_EachEndsInAStatus()
    {
        SharedFixtures.RequirePresent();
        var sflow = SharedFixtures.Manifest.Where(e => e.Folder is "pcaps/sflow" or "raw/sflow")
            .SelectMany(SharedFixtures.Datagrams).Select(d => d.Payload).Where(p => FlowDecoder.FormatOf(p) == ExportFormat.SFlow).ToList();
        sflow.AddRange(SharedFixtures.CaptureDatagrams(Path.Combine(KnownTraffic.CommittedCaptures, "pmacct-sflow.pcap")).Take(50).Select(d => d.Payload));
        var frames = SharedFixtures.Manifest.Where(e => e.Path.StartsWith("pcaps/span/", StringComparison.Ordinal))
            .SelectMany(e => RawFrames(SharedFixtures.FullPath(e)))
            .Concat(RawFrames(Path.Combine(KnownTraffic.CommittedCaptures, "mirrored-tzsp.pcap")).Take(200))
            .Concat(RawFrames(Path.Combine(KnownTraffic.CommittedCaptures, "mirrored-erspan3.pcap")).Take(200))
            .ToList();
        var decoder = new FlowDecoder(new FlowDecoderOptions { MaxExporters = 64 });
        var mutator = new FlowMutator(Seed + 1);
        var output = new byte[65_535];
        var byStatus = new long[Enum.GetValues<DecodeStatus>().Length];
        var byPacketStatus = new long[Enum.GetValues<PacketStatus>().Length];
        var sink = new CountingSink();
        var exporter = NetworkAddress.Parse("192.0.2.33");
        var mirroredRecords = 0;

        GC.Collect();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < MutatedDatagrams / 2; i++)
        {
            var length = mutator.MutateWords(sflow[mutator.Random.Next(sflow.Count)], output);
            byStatus[(int)decoder.Decode(output.AsSpan(0, length), exporter, 1_700_000_000_000 + i, ref sink)]++;

            length = mutator.MutateWords(frames[mutator.Random.Next(frames.Count)], output);
            var frame = output.AsSpan(0, length);
            var status = PacketHeaderParser.Parse(frame, LinkType.Ethernet, out var header, PacketParseMode.Mirrored);
            byPacketStatus[(int)status]++;
            Assert.InRange(header.PayloadOffset + header.PayloadLength, 0, length);
            if (PacketFlows.TryDecodeMirrored(frame, LinkType.Ethernet, length, 0, out _))
            {
                mirroredRecords++;
            }
        }

        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(MutatedDatagrams / 2, byStatus.Sum());
        Assert.Equal(MutatedDatagrams / 2, byPacketStatus.Sum());
        Assert.All(
            new[] { DecodeStatus.Ok, DecodeStatus.Truncated, DecodeStatus.BadLength, DecodeStatus.BadRecord },
            status => Assert.True(byStatus[(int)status] > 0, $"no sFlow mutation ended in {status}"));
        Assert.All(Enum.GetValues<PacketStatus>(), status => Assert.True(byPacketStatus[(int)status] > 0, $"no frame mutation ended in {status}"));
        Assert.True(sink.Records > 0 && sink.Counters > 0 && mirroredRecords > 0);
        Assert.True(memoryAfter - memoryBefore < 16L * 1024 * 1024, $"managed memory grew by {(memoryAfter - memoryBefore) / 1024} KiB");
    }

    private static List<byte[]> RawFrames(string path)
    {
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        var frames = new List<byte[]>();
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            if (device.LinkType == PacketDotNet.LinkLayers.Ethernet)
            {
                frames.Add(capture.Data.ToArray());
            }
        }

        return frames;
    }

    internal static bool IsFlowFolder(string folder) =>
        folder is "pcaps/netflow5" or "pcaps/netflow9" or "pcaps/ipfix" or "pcaps/sflow" or "raw/netflow5" or "raw/netflow9" or "raw/ipfix" or "raw/sflow";

    /// <summary>Every fixture flow datagram plus hand-built ones for the cases fixtures lack (withdrawals, varlen, biflows).</summary>
    private static List<byte[]> Corpus()
    {
        var corpus = SharedFixtures.Manifest
            .Where(e => IsFlowFolder(e.Folder))
            .SelectMany(SharedFixtures.Datagrams)
            .Select(d => d.Payload)
            .Where(p => FlowDecoder.LooksLikeFlowExport(p))
            .ToList();
        corpus.Add(new IpfixBuilder(domain: 1).Template(300, new Field(8, 4), new Field(82, Field.Variable), new Field(1, 8, 29305), new Field(2, 4)).Data(300, Wire.Concat(Wire.Ip("192.0.2.1"), Wire.VariableLength(new byte[300]), Wire.U64(5), Wire.U32(1))).Build());
        corpus.Add(new IpfixBuilder(domain: 1).Withdraw(300).Withdraw(2).Withdraw(3, options: true).Build());
        corpus.Add(NetFlowV5Builder.Datagram([.. Enumerable.Range(0, 30).Select(_ => NetFlowV5Builder.Record())]));
        return corpus;
    }
}
