using System.Diagnostics;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>
/// Two network namespaces the test creates, joined by a veth pair with documentation addresses (192.0.2.1/30 in
/// the first, 192.0.2.2/30 in the second). Traffic never leaves them. Deleted when disposed.
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    private NetworkNamespaces(string first, string second)
    {
        First = first;
        Second = second;
    }

    public string First { get; }

    public string Second { get; }

    public const string FirstInterface = "veth-fc0";

    public const string SecondInterface = "veth-fc1";

    public static void RequireAvailable()
    {
        Flowcollector.Require(File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip"), "iproute2 is not installed (apt-get install iproute2)");
        Flowcollector.Require(Environment.UserName == "root", "network namespaces need root");
        Flowcollector.Require(File.Exists("/usr/bin/python3"), "python3 is not installed");
    }

    public static NetworkNamespaces Create()
    {
        var tag = $"fc{Environment.ProcessId % 100000}x{Random.Shared.Next(1000)}";
        var namespaces = new NetworkNamespaces(tag + "a", tag + "b");
        Ip("netns", "add", namespaces.First);
        Ip("netns", "add", namespaces.Second);
        Ip("link", "add", FirstInterface, "netns", namespaces.First, "type", "veth", "peer", "name", SecondInterface, "netns", namespaces.Second);
        Ip("-n", namespaces.First, "addr", "add", "192.0.2.1/30", "dev", FirstInterface);
        Ip("-n", namespaces.Second, "addr", "add", "192.0.2.2/30", "dev", SecondInterface);
        foreach (var (space, device) in new[] { (namespaces.First, FirstInterface), (namespaces.Second, SecondInterface), (namespaces.First, "lo"), (namespaces.Second, "lo") })
        {
            Ip("-n", space, "link", "set", device, "up");
        }

        return namespaces;
    }

    /// <summary>Starts a program inside a namespace.</summary>
    public static Process Start(string space, params string[] command)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "netns", "exec", space }.Concat(command))
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    /// <summary>
    /// Starts a program inside a namespace and keeps reading what it prints: softflowd -D writes a line per flow,
    /// and a full pipe would stop it.
    /// </summary>
    public static Process StartDrained(string space, params string[] command)
    {
        var process = Start(space, command);
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs a program inside a namespace to its end and returns what it printed.</summary>
    public static string Run(string space, params string[] command)
    {
        using var process = Start(space, command);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
        }

        Assert.True(process.ExitCode == 0, $"{string.Join(' ', command)} in {space} failed: {error.Result}");
        return output.Result;
    }

    public void Dispose()
    {
        TryIp("netns", "del", First);
        TryIp("netns", "del", Second);
    }

    private static void Ip(params string[] arguments)
    {
        var (code, output) = Execute(arguments);
        Assert.True(code == 0, $"ip {string.Join(' ', arguments)}: {output}");
    }

    private static void TryIp(params string[] arguments) => Execute(arguments);

    private static (int Code, string Output) Execute(string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
