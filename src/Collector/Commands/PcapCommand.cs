using System.CommandLine;
using System.Globalization;
using FlowCollector.Collector.Configuration;
using FlowCollector.Exporters.Evidence;

namespace FlowCollector.Collector.Commands;

/// <summary><c>flowcollector pcap ID [-o FILE]</c>: copies an incident's capture file, to a file or to standard output.</summary>
internal static class PcapCommand
{
    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var id = new Argument<long>("ID") { Description = "The incident's id (as flowcollector incidents lists it)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the capture here (default: standard output, e.g. into tshark -r -)" };
        var command = new Command("pcap", "Copy an incident's packets (a classic pcap file)") { id, output };
        arguments.AddTo(command);
        command.SetAction(parse => Run(arguments.Read(parse), parse.GetValue(id), parse.GetValue(output)));
        return command;
    }

    public static int Run(CommandLineOverrides overrides, long id, string? output)
    {
        if (!StoreArguments.TryOpen(overrides, out var store, out var exit))
        {
            return exit;
        }

        using (store)
        {
            if (!IncidentPcaps.TryLocate(store!, id, out var pcap, out var path, out var reason))
            {
                Console.Error.WriteLine(reason);
                return 1;
            }

            try
            {
                using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (output is null or "-")
                {
                    using var standardOutput = Console.OpenStandardOutput();
                    source.CopyTo(standardOutput);
                }
                else
                {
                    using var target = new FileStream(output, FileMode.Create, FileAccess.Write);
                    source.CopyTo(target);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"incident {id}: {pcap!.Packets} packets written to {output}"));
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"pcap: {exception.Message}");
                return 1;
            }
        }

        return 0;
    }
}
