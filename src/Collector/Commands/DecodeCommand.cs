using System.CommandLine;
using FlowCollector.Collector.Decode;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Flows;

namespace FlowCollector.Collector.Commands;

/// <summary><c>flowcollector decode FILE.pcap...</c>: prints the flow records of captures, like <c>nfdump -r</c>.</summary>
internal static class DecodeCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("files")
        {
            Description = "Capture files (pcap or pcapng), decoded in the order given with one template cache per exporter",
            Arity = ArgumentArity.OneOrMore,
        };
        var ports = new Option<int[]>("--port")
        {
            Description = "Only UDP datagrams to this destination port (repeatable; default: any port)",
            AllowMultipleArgumentsPerToken = true,
        };
        var format = new Option<FlowOutputFormat>("--format")
        {
            Description = "Output: text columns or one JSON object per line",
            DefaultValueFactory = _ => FlowOutputFormat.Text,
        };
        var span = new Option<bool>("--span")
        {
            Description = "The capture holds mirrored traffic (SPAN, ERSPAN, GRE, TZSP, VXLAN): each frame is one packet",
        };
        var counters = new Option<bool>("--counters")
        {
            Description = "Print the interface counters of sFlow counter samples instead of flow records",
        };
        var command = new Command("decode", "Print the flow records (or sFlow counters) found in capture files")
        {
            files,
            ports,
            format,
            span,
            counters,
        };
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(ports) ?? [], parse.GetValue(format), parse.GetValue(span), parse.GetValue(counters)));
        return command;
    }

    private static int Run(string[] files, int[] ports, FlowOutputFormat format, bool span, bool counters)
    {
        foreach (var port in ports)
        {
            if (port is < 1 or > 65535)
            {
                Console.Error.WriteLine($"--port: {port} is not a UDP port (1-65535)");
                return 2;
            }
        }

        if (span && counters)
        {
            Console.Error.WriteLine("--counters: mirrored traffic (--span) carries no interface counters");
            return 2;
        }

        var decoder = new CaptureDecoder(new FlowDecoderOptions(), ports.ToHashSet(), span ? CaptureContent.MirroredFrames : CaptureContent.FlowExports);
        using var stdout = Console.OpenStandardOutput();
        using var output = new BufferedStream(stdout, 64 * 1024);
        using var writer = new FlowLineWriter(output, format);
        var ok = counters
            ? decoder.TryDecode(files, (_, _) => { }, (snapshot, captured) => writer.Write(snapshot, captured), out var error)
            : decoder.TryDecode(files, (flow, captured) => writer.Write(flow, captured), null, out error);
        writer.Flush();
        WriteSummary(decoder.Summary);
        if (!ok)
        {
            Console.Error.WriteLine($"error: {error}");
            return 1;
        }

        return 0;
    }

    private static void WriteSummary(CaptureDecodeSummary summary)
    {
        var error = Console.Error;
        error.WriteLine($"frames: {summary.Frames}, flow datagrams: {summary.FlowDatagrams}, records: {summary.Records}, counter samples: {summary.Counters}");
        foreach (var status in Enum.GetValues<DecodeStatus>())
        {
            var count = summary.CountOf(status);
            if (count > 0)
            {
                error.WriteLine($"  {status}: {count}");
            }
        }

        if (summary.NotIp > 0)
        {
            error.WriteLine($"frames without IP (ARP, STP, ...): {summary.NotIp}");
        }

        if (summary.OtherUdp > 0)
        {
            error.WriteLine($"UDP datagrams that are no flow export: {summary.OtherUdp}");
        }

        if (summary.Fragments > 0)
        {
            error.WriteLine($"IP fragments skipped (exports are not reassembled): {summary.Fragments}");
        }

        if (summary.TruncatedDatagrams > 0)
        {
            error.WriteLine($"datagrams cut short by the capture's snap length: {summary.TruncatedDatagrams}");
        }
    }
}
