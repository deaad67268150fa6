using System.CommandLine;
using System.Net.Sockets;
using System.Text;

namespace FlowCollector.Collector.Commands;

/// <summary>
/// <c>flowcollector exabgp-relay --socket PATH</c>: the program ExaBGP runs as its API process
/// (<c>process flowcollector { run /usr/bin/flowcollector exabgp-relay --socket /run/flowcollector/exabgp.sock; encoder text; }</c>).
/// It connects to the collector's socket (again and again, while the collector is away), writes each command line
/// it receives to ExaBGP on stdout, and sends ExaBGP's answer from stdin back. It exits when ExaBGP closes stdin.
/// </summary>
internal static class ExaBgpRelayCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Description = "The collector's socket (Mitigation:ExaBgp:Socket)", Required = true };
        var noAck = new Option<bool>("--no-ack") { Description = "ExaBGP runs with exabgp.api.ack=false: answer 'done' without waiting" };
        var command = new Command("exabgp-relay", "Relay between ExaBGP's process API and the collector (ExaBGP runs this)") { socket, noAck };
        command.SetAction(parse => Run(parse.GetValue(socket)!, parse.GetValue(noAck), Console.OpenStandardInput(), Console.OpenStandardOutput()));
        return command;
    }

    private static bool ParentIsGone()
    {
        try
        {
            // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing parenthesis.
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 1 && fields[1] == "1";
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static int Run(string path, bool noAck, Stream fromExaBgp, Stream toExaBgp)
    {
        using var answers = new StreamReader(fromExaBgp, Encoding.UTF8);
        using var commands = new StreamWriter(toExaBgp, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        while (true)
        {
            using var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                connection.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException)
            {
                // The collector is not (yet) there: try again shortly; ExaBGP keeps its routes meanwhile. An orphan
                // (ExaBGP gone, so our parent is now init) stops instead of retrying forever.
                if (ParentIsGone())
                {
                    return 0;
                }

                Thread.Sleep(1000);
                continue;
            }

            using var stream = new NetworkStream(connection, ownsSocket: false);
            using var fromCollector = new StreamReader(stream, Encoding.UTF8);
            using var toCollector = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            try
            {
                while (fromCollector.ReadLine() is { } line)
                {
                    commands.WriteLine(line);
                    var answer = noAck ? "done" : answers.ReadLine();
                    if (answer is null)
                    {
                        // ExaBGP closed our stdin: it is stopping, and so are we.
                        return 0;
                    }

                    toCollector.WriteLine(answer);
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
