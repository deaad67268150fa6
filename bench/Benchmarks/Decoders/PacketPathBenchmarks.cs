using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Benchmarks.Decoders;

/// <summary>
/// sFlow flow samples (each with a 128-byte raw header, as switches send them) and mirrored frames (plain SPAN and
/// ERSPAN III), per sample or frame on one core.
/// </summary>
[MemoryDiagnoser]
public class PacketPathBenchmarks
{
    private const int SamplesPerDatagram = 10;
    private const long Now = 1_700_000_000_000;
    private static readonly NetworkAddress Agent = NetworkAddress.Parse("192.0.2.1");
    private readonly FlowDecoder _decoder = new();
    private byte[] _sflow = [];
    private byte[] _span = [];
    private byte[] _erspan = [];
    private Sink _sink;

    [GlobalSetup]
    public void Setup()
    {
        var tcp = Ethernet(IPv4(6, Tcp()));
        _span = tcp;
        _erspan = Ethernet(IPv4(47, [.. Gre(0x22EB), .. ErspanTypeIII(), .. tcp]));
        _sflow = SFlowDatagram(tcp);
        var check = default(Sink);
        if (_decoder.Decode(_sflow, Agent, Now, ref check) != DecodeStatus.Ok || check.Records != SamplesPerDatagram
            || !PacketFlows.TryDecodeMirrored(_erspan, LinkType.Ethernet, _erspan.Length, Now, out var flow) || flow.DestinationPort != 443)
        {
            throw new InvalidOperationException("benchmark input does not decode fully");
        }
    }

    [Benchmark(OperationsPerInvoke = SamplesPerDatagram)]
    public DecodeStatus SFlowSamples() => _decoder.Decode(_sflow, Agent, Now, ref _sink);

    [Benchmark]
    public bool MirroredFrame()
    {
        var decoded = PacketFlows.TryDecodeMirrored(_span, LinkType.Ethernet, 1514, Now, out var flow);
        _sink.OnFlow(flow);
        return decoded;
    }

    [Benchmark]
    public bool ErspanFrame()
    {
        var decoded = PacketFlows.TryDecodeMirrored(_erspan, LinkType.Ethernet, 1568, Now, out var flow);
        _sink.OnFlow(flow);
        return decoded;
    }

    private static byte[] SFlowDatagram(byte[] frame)
    {
        var header = frame.AsSpan(0, Math.Min(128, frame.Length)).ToArray();
        var samples = new List<byte>();
        for (var i = 0; i < SamplesPerDatagram; i++)
        {
            var record = Words(1, 1518, 4, (uint)header.Length).Concat(header).ToArray();
            var sample = Words((uint)i, 7, 2048, (uint)(i * 2048), 0, 7, 9, 1)
                .Concat(Words(1, (uint)record.Length)).Concat(record).ToArray();
            samples.AddRange(Words(1, (uint)sample.Length));
            samples.AddRange(sample);
        }

        return [.. Words(5, 1), .. new byte[] { 192, 0, 2, 1 }, .. Words(0, 1, 1000, SamplesPerDatagram), .. samples];
    }

    private static byte[] Words(params uint[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    private static byte[] Ethernet(byte[] ip) => [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, .. ip];

    private static byte[] IPv4(byte protocol, byte[] payload)
    {
        var header = new byte[20];
        header[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)(20 + payload.Length + 1400));
        header[8] = 64;
        header[9] = protocol;
        header[12] = 203;
        header[13] = 0;
        header[14] = 113;
        header[15] = 5;
        header[16] = 198;
        header[17] = 51;
        header[18] = 100;
        header[19] = 20;
        return [.. header, .. payload];
    }

    private static byte[] Tcp() => [0xC3, 0x50, 0x01, 0xBB, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0];

    private static byte[] Gre(ushort protocol) => [0x10, 0x00, (byte)(protocol >> 8), (byte)protocol, 0, 0, 0, 1];

    private static byte[] ErspanTypeIII() => [0x20, 0, 0, 3, 0, 1, 0xE2, 0x40, 0, 0, 0, 0];

    private struct Sink : IFlowSink
    {
        public ulong Checksum;
        public int Records;

        public void OnFlow(in FlowRecord flow)
        {
            Checksum += flow.Bytes + flow.SamplingRate + flow.SourceAddress.Low + flow.DestinationAddress.Low + flow.SourcePort
                + flow.DestinationPort + flow.IpProtocol + flow.TcpFlags + flow.InputInterface + flow.OutputInterface + (ulong)flow.Attributes;
            Records++;
        }

        public void OnCounters(in InterfaceCounters counters) => Checksum += counters.InOctets;

        public void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
