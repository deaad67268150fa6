using System.Text.Json;
using FlowCollector.Collector.Capture;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>The project's own captures (tests/fixtures/pcaps) and the known totals of the traffic inside them.</summary>
internal static class OwnCaptures
{
    public static string Folder { get; } = System.IO.Path.Combine(Flowcollector.RepositoryRoot, "tests", "fixtures", "pcaps");

    public static string Path(string name) => System.IO.Path.Combine(Folder, name);

    /// <summary>Packets of the known traffic of one IP version (4 or 6), from traffic.json.</summary>
    public static double Packets(int version) => Totals().GetProperty($"ipv{version}").GetProperty("packets").GetDouble();

    public static double Bytes(int version) => Totals().GetProperty($"ipv{version}").GetProperty("bytes").GetDouble();

    /// <summary>Decodes a capture with the product's decoder: records and packets, to know what a replay carries.</summary>
    public static (long Records, double Packets) Decode(string name)
    {
        Assert.True(CaptureFile.TryOpen(Path(name), out var capture, out var error), error);
        var decoder = new FlowDecoder();
        var sink = new Counter();
        using (capture)
        {
            while (capture!.TryReadNext(out var frame, out var timestamp, out _))
            {
                PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
                if (header.Protocol == PacketHeaderParser.ProtocolUdp && header.HasTransport)
                {
                    decoder.Decode(frame.Slice(header.PayloadOffset, header.PayloadLength), header.SourceAddress, timestamp.ToUnixTimeMilliseconds(), ref sink);
                }
            }
        }

        return (sink.Records, sink.Packets);
    }

    /// <summary>UDP datagrams in a capture: what a replay of it sends.</summary>
    public static int Datagrams(string name)
    {
        Assert.True(CaptureFile.TryOpen(Path(name), out var capture, out var error), error);
        var count = 0;
        using (capture)
        {
            while (capture!.TryReadNext(out var frame, out _, out _))
            {
                PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
                count += header.Protocol == PacketHeaderParser.ProtocolUdp && header.HasTransport ? 1 : 0;
            }
        }

        return count;
    }

    private static JsonElement Totals()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path("traffic.json")));
        return document.RootElement.Clone();
    }

    private struct Counter : IFlowSink
    {
        public long Records;
        public double Packets;

        public void OnFlow(in FlowRecord flow)
        {
            Records++;
            Packets += flow.Packets * (double)Math.Max(1u, flow.SamplingRate);
        }

        public readonly void OnCounters(in InterfaceCounters counters)
        {
        }

        public readonly void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
