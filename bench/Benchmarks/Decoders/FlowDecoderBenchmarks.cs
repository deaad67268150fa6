using BenchmarkDotNet.Attributes;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;

namespace FlowCollector.Benchmarks.Decoders;

/// <summary>
/// Decoding cost per flow record on one core, for full 30-record datagrams with the template already known.
/// Each operation is one record (OperationsPerInvoke), so the mean is nanoseconds per record.
/// </summary>
[MemoryDiagnoser]
public class FlowDecoderBenchmarks
{
    private static readonly NetworkAddress Exporter = NetworkAddress.Parse("192.0.2.1");
    private readonly FlowDecoder _decoder = new();
    private byte[] _v5 = [];
    private byte[] _v9 = [];
    private byte[] _ipfix = [];
    private SummingSink _sink;

    [GlobalSetup]
    public void Setup()
    {
        _v5 = BenchmarkDatagrams.NetFlowV5();
        _v9 = BenchmarkDatagrams.NetFlowV9Data();
        _ipfix = BenchmarkDatagrams.IpfixData();
        _decoder.Decode(BenchmarkDatagrams.NetFlowV9Template(), Exporter, Now, ref _sink);
        _decoder.Decode(BenchmarkDatagrams.IpfixTemplate(), Exporter, Now, ref _sink);

        // A benchmark of a datagram that fails early would measure nothing: check each decodes fully.
        Require(_v5, BenchmarkDatagrams.V5Records);
        Require(_v9, BenchmarkDatagrams.V9Records);
        Require(_ipfix, BenchmarkDatagrams.IpfixRecords);
    }

    private void Require(byte[] datagram, int records)
    {
        var sink = default(SummingSink);
        var status = _decoder.Decode(datagram, Exporter, Now, ref sink);
        if (status != DecodeStatus.Ok || sink.Records != records)
        {
            throw new InvalidOperationException($"benchmark datagram decoded to {status} with {sink.Records} records, not {records}");
        }
    }

    private const long Now = 1_700_000_000_000;

    [Benchmark(OperationsPerInvoke = BenchmarkDatagrams.V5Records)]
    public DecodeStatus NetFlowV5() => _decoder.Decode(_v5, Exporter, Now, ref _sink);

    [Benchmark(OperationsPerInvoke = BenchmarkDatagrams.V9Records)]
    public DecodeStatus NetFlowV9() => _decoder.Decode(_v9, Exporter, Now, ref _sink);

    [Benchmark(OperationsPerInvoke = BenchmarkDatagrams.IpfixRecords)]
    public DecodeStatus Ipfix() => _decoder.Decode(_ipfix, Exporter, Now, ref _sink);

    /// <summary>Reads every field the aggregator uses, so that the JIT cannot drop the decoding of any.</summary>
    private struct SummingSink : IFlowSink
    {
        public ulong Checksum;
        public int Records;

        public void OnFlow(in FlowRecord flow)
        {
            Checksum += flow.Bytes + flow.Packets + flow.SamplingRate + flow.SourceAddress.Low + flow.DestinationAddress.Low
                + flow.DestinationAddress.High + flow.Exporter.Low + flow.SourcePort + flow.DestinationPort + flow.IpProtocol
                + flow.TcpFlags + flow.InputInterface + flow.OutputInterface + (ulong)flow.StartMilliseconds
                + (ulong)flow.EndMilliseconds + (ulong)flow.Attributes + flow.IcmpType + flow.IpVersion;
            Records++;
        }

        public void OnCounters(in InterfaceCounters counters) => Checksum += counters.InOctets;

        public void OnSampledHeader(ReadOnlySpan<byte> header, FlowCollector.Decoders.Packets.LinkType linkType, uint frameLength, long receivedMilliseconds)
        {
        }
    }
}
