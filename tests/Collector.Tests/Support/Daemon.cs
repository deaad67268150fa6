using System.Diagnostics;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>Starts the real peers tests talk to (GoBGP, ExaBGP, Prometheus), each logging to FILE.log in its directory.</summary>
internal static class Daemon
{
    public static Process Launch(string file, string directory, Dictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(directory, Path.GetFileName(file) + ".log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
