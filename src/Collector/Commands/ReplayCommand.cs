using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using FlowCollector.Collector.Capture;
using FlowCollector.Collector.Replay;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector replay FILE.pcap --to HOST:PORT</c>: re-sends the UDP payloads of captures, paced by their
/// capture times (optionally sped up), at a fixed rate, or as fast as the kernel takes them, and reports what it
/// sent. Built to load a collector from a second core.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("files") { Description = "Capture files whose UDP payloads are sent, in order", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to") { Description = "Destination HOST:PORT", Required = true };
        var rate = new Option<double?>("--rate") { Description = "Datagrams per second, evenly paced (instead of the capture's timing)" };
        var max = new Option<bool>("--max") { Description = "As fast as possible" };
        var speed = new Option<double>("--speed") { Description = "Replay the capture's timing this many times faster", DefaultValueFactory = _ => 1.0 };
        var loop = new Option<int?>("--loop") { Description = "Send the datagrams this many times (default 1, or until --duration)" };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds" };
        var port = new Option<int?>("--port") { Description = "Only UDP datagrams to this destination port in the capture" };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var from = new Option<string?>("--from") { Description = "Local address to send from (e.g. 127.0.0.2, to appear as another exporter)" };
        var command = new Command("replay", "Re-send the UDP payloads of captures to a collector") { files, to, rate, max, speed, loop, duration, port, json, from };
        command.SetAction(parse => Run(
            parse.GetValue(files)!,
            parse.GetValue(to)!,
            parse.GetValue(rate),
            parse.GetValue(max),
            parse.GetValue(speed),
            parse.GetValue(loop),
            parse.GetValue(duration),
            parse.GetValue(port),
            parse.GetValue(json),
            parse.GetValue(from)));
        return command;
    }

    private static int Run(string[] files, string to, double? rate, bool max, double speed, int? loop, double? duration, int? port, bool json, string? from)
    {
        if (!TryParseTarget(to, out var target))
        {
            Console.Error.WriteLine($"--to: '{to}' is not HOST:PORT");
            return 2;
        }

        IPAddress? source = null;
        if (from is not null && !IPAddress.TryParse(from, out source))
        {
            Console.Error.WriteLine($"--from: '{from}' is not an IP address");
            return 2;
        }

        if (rate is <= 0 || speed <= 0 || loop is <= 0 || duration is <= 0 || (rate.HasValue && max))
        {
            Console.Error.WriteLine("replay: --rate, --speed, --loop and --duration must be positive, and --rate excludes --max");
            return 2;
        }

        var datagrams = new List<byte[]>();
        var times = new List<double>();
        foreach (var path in files)
        {
            if (!CaptureFile.TryOpen(path, out var capture, out var error))
            {
                Console.Error.WriteLine($"error: {error}");
                return 1;
            }

            using (capture)
            {
                while (capture!.TryReadNext(out var frame, out var timestamp, out _))
                {
                    PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
                    if (header.Protocol != PacketHeaderParser.ProtocolUdp || !header.HasTransport || header.IsFragment || (port.HasValue && header.DestinationPort != port))
                    {
                        continue;
                    }

                    datagrams.Add(frame.Slice(header.PayloadOffset, header.PayloadLength).ToArray());
                    times.Add(timestamp.ToUnixTimeMilliseconds() / 1000.0);
                }
            }
        }

        if (datagrams.Count == 0)
        {
            Console.Error.WriteLine("replay: the captures hold no UDP datagrams");
            return 1;
        }

        var loops = loop ?? (duration.HasValue ? int.MaxValue : 1);
        using var sender = new BatchSender(target, source, datagrams, 8 * 1024 * 1024);
        var clock = Stopwatch.StartNew();
        long sent = 0, bytes = 0;
        var deadline = duration ?? double.MaxValue;
        var captureSpan = times[^1] - times[0];
        for (var round = 0; round < loops && clock.Elapsed.TotalSeconds < deadline; round++)
        {
            var roundStart = clock.Elapsed.TotalSeconds;
            var index = 0;
            while (index < sender.Count && clock.Elapsed.TotalSeconds < deadline)
            {
                // How many datagrams are due by now: all (max), by the fixed rate, or by the capture's clock.
                int due;
                if (max)
                {
                    due = sender.Count;
                }
                else if (rate is { } perSecond)
                {
                    due = (int)Math.Min(sender.Count, ((clock.Elapsed.TotalSeconds * perSecond) - sent + index) + 1);
                }
                else
                {
                    var elapsed = (clock.Elapsed.TotalSeconds - roundStart) * speed;
                    due = index;
                    while (due < sender.Count && times[due] - times[0] <= elapsed)
                    {
                        due++;
                    }
                }

                if (due <= index)
                {
                    Wait(clock, rate, speed, times, index, roundStart);
                    continue;
                }

                var count = Math.Min(due - index, 64);
                sender.Send(index, count);
                for (var i = index; i < index + count; i++)
                {
                    bytes += sender.LengthOf(i);
                }

                sent += count;
                index += count;
            }

            // A captured round that ends early still takes its span before the next starts.
            if (!max && rate is null && round + 1 < loops)
            {
                var pause = (captureSpan / speed) - (clock.Elapsed.TotalSeconds - roundStart);
                if (pause > 0)
                {
                    Thread.Sleep(TimeSpan.FromSeconds(Math.Min(pause, deadline - clock.Elapsed.TotalSeconds)));
                }
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var achieved = sent / Math.Max(seconds, 1e-9);
        Console.WriteLine(json
            ? string.Create(CultureInfo.InvariantCulture, $"{{\"datagrams\":{sent},\"bytes\":{bytes},\"seconds\":{seconds:0.000},\"datagramsPerSecond\":{achieved:0.0}}}")
            : string.Create(CultureInfo.InvariantCulture, $"sent {sent} datagrams ({bytes} bytes) to {target} in {seconds:0.000} s: {achieved:0} datagrams/s"));
        return 0;
    }

    /// <summary>Sleeps when the next datagram is more than 2 ms away, yields otherwise.</summary>
    private static void Wait(Stopwatch clock, double? rate, double speed, List<double> times, int index, double roundStart)
    {
        var ahead = rate is { } perSecond
            ? 1.0 / perSecond
            : ((times[index] - times[0]) / speed) - (clock.Elapsed.TotalSeconds - roundStart);
        if (ahead > 0.002)
        {
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(ahead - 0.001, 0.05)));
        }
        else
        {
            Thread.Yield();
        }
    }

    private static bool TryParseTarget(string text, out IPEndPoint target)
    {
        if (IPEndPoint.TryParse(text, out var parsed) && parsed.Port != 0)
        {
            target = parsed;
            return true;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65_536)
        {
            try
            {
                var address = Dns.GetHostAddresses(text[..colon]).FirstOrDefault();
                if (address is not null)
                {
                    target = new IPEndPoint(address, port);
                    return true;
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
            }
        }

        target = null!;
        return false;
    }
}
