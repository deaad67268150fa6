using System.Globalization;
using System.Text.Json;
using FlowCollector.Decoders;

namespace FlowCollector.Collector.Decode;

/// <summary>How <c>flowcollector decode</c> prints records.</summary>
internal enum FlowOutputFormat
{
    /// <summary>One aligned line per record, for people.</summary>
    Text,

    /// <summary>One JSON object per line, for programs.</summary>
    Jsonl,
}

/// <summary>Prints flow records as text columns or JSON lines with fixed keys.</summary>
internal sealed class FlowLineWriter : IDisposable
{
    private readonly Stream _output;
    private readonly FlowOutputFormat _format;
    private readonly Utf8JsonWriter _json;
    private readonly StreamWriter _text;
    private bool _headerWritten;

    public FlowLineWriter(Stream output, FlowOutputFormat format)
    {
        _output = output;
        _format = format;
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        _text = new StreamWriter(output, leaveOpen: true) { AutoFlush = false };
    }

    public static string FormatName(ExportFormat format) => format switch
    {
        ExportFormat.NetFlowV5 => "netflow5",
        ExportFormat.NetFlowV9 => "netflow9",
        ExportFormat.Ipfix => "ipfix",
        ExportFormat.SFlow => "sflow",
        ExportFormat.Span => "span",
        _ => "unknown",
    };

    public void Write(in FlowRecord flow, DateTimeOffset captured)
    {
        if (_format == FlowOutputFormat.Jsonl)
        {
            WriteJson(flow, captured);
        }
        else
        {
            WriteText(flow);
        }
    }

    /// <summary>Interface counters are printed as JSON lines whatever the format: they have no columns of their own.</summary>
    public void Write(in InterfaceCounters counters, DateTimeOffset captured)
    {
        _text.Flush();
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("time", Iso(captured, "ffffff"));
        _json.WriteString("exporter", counters.Exporter.ToString());
        _json.WriteNumber("ifIndex", counters.IfIndex);
        _json.WriteNumber("ifSpeed", counters.IfSpeed);
        WriteCounter("inOctets", counters.InOctets, counters.Has(KnownCounters.InOctets));
        WriteCounter("outOctets", counters.OutOctets, counters.Has(KnownCounters.OutOctets));

        // As sFlow's ifInUcastPkts and ifOutUcastPkts; multicast and broadcast are counted apart.
        WriteCounter("inPackets", counters.InUnicastPackets, counters.Has(KnownCounters.InUnicast));
        WriteCounter("outPackets", counters.OutUnicastPackets, counters.Has(KnownCounters.OutUnicast));
        WriteCounter("inDiscards", counters.InDiscards, counters.Has(KnownCounters.InDiscards));
        WriteCounter("inErrors", counters.InErrors, counters.Has(KnownCounters.InErrors));
        _json.WriteEndObject();
        _json.Flush();
        _output.WriteByte((byte)'\n');
    }

    public void Flush()
    {
        _json.Flush();
        _text.Flush();
        _output.Flush();
    }

    public void Dispose()
    {
        Flush();
        _json.Dispose();
        _text.Dispose();
    }

    private void WriteCounter(string name, ulong value, bool known)
    {
        if (known)
        {
            _json.WriteNumber(name, value);
        }
        else
        {
            _json.WriteNull(name);
        }
    }

    private static string Iso(DateTimeOffset time, string fraction) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss." + fraction + "'Z'", CultureInfo.InvariantCulture);

    private void WriteJson(in FlowRecord flow, DateTimeOffset captured)
    {
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("time", Iso(captured, "ffffff"));
        if (flow.Exporter == NetworkAddress.None)
        {
            // Frames captured here, not mirrored through a tunnel: no device sent them.
            _json.WriteNull("exporter");
        }
        else
        {
            _json.WriteString("exporter", flow.Exporter.ToString());
        }

        _json.WriteString("protocol", FormatName(flow.Format));
        _json.WriteNumber("domain", flow.ObservationDomain);
        if (flow.HasAddresses)
        {
            _json.WriteString("src", flow.SourceAddress.ToString());
            _json.WriteString("dst", flow.DestinationAddress.ToString());
        }
        else
        {
            _json.WriteNull("src");
            _json.WriteNull("dst");
        }

        _json.WriteNumber("srcPort", flow.SourcePort);
        _json.WriteNumber("dstPort", flow.DestinationPort);
        _json.WriteNumber("proto", flow.IpProtocol);
        _json.WriteNumber("tcpFlags", flow.TcpFlags);
        _json.WriteNumber("packets", flow.Packets);
        _json.WriteNumber("bytes", flow.Bytes);
        _json.WriteNumber("samplingRate", flow.SamplingRate);
        _json.WriteNumber("inIf", flow.InputInterface);
        _json.WriteNumber("outIf", flow.OutputInterface);
        _json.WriteString("start", Iso(flow.Start, "fff"));
        _json.WriteString("end", Iso(flow.End, "fff"));
        _json.WriteEndObject();
        _json.Flush();
        _output.WriteByte((byte)'\n');
    }

    private void WriteText(in FlowRecord flow)
    {
        if (!_headerWritten)
        {
            _text.WriteLine("Start                    Duration Format   Proto Source                                  Destination                              Packets        Bytes  Rate In    Out   Exporter");
            _headerWritten = true;
        }

        var duration = (flow.EndMilliseconds - flow.StartMilliseconds) / 1000.0;
        var source = Endpoint(flow.HasAddresses ? flow.SourceAddress.ToString() : "-", flow.SourcePort, flow.SourceAddress.IsIPv4);
        var destination = Endpoint(flow.HasAddresses ? flow.DestinationAddress.ToString() : "-", flow.DestinationPort, flow.DestinationAddress.IsIPv4);
        _text.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{flow.Start.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} {duration,8:0.000} {FormatName(flow.Format),-8} {flow.IpProtocol,5} {source,-39} {destination,-39} {flow.Packets,8} {flow.Bytes,12} {flow.SamplingRate,5} {flow.InputInterface,-5} {flow.OutputInterface,-5} {flow.Exporter}"));
    }

    private static string Endpoint(string address, ushort port, bool isIPv4) =>
        isIPv4 ? string.Create(CultureInfo.InvariantCulture, $"{address}:{port}") : string.Create(CultureInfo.InvariantCulture, $"[{address}]:{port}");
}
