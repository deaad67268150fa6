using System.Net.Sockets;
using System.Text;
using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// Type=notify readiness without /proc: the shipped unit's ProtectProc=invisible hides the parent's /proc entry, by
/// which the hosting library recognises systemd, so the collector also goes by NOTIFY_SOCKET, which systemd sets.
/// </summary>
public sealed class ServiceManagerTests
{
    [Fact]
    public async Task Run_NotifySocketSetAndParentNotSystemd_SendsReadyOnceItAnswers()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-notify-");
        try
        {
            var path = Path.Combine(directory.FullName, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(path));

            await using var collector = await CollectorProcess.StartWithEnvironmentAsync(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path });

            var buffer = new byte[256];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var received = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.Equal("READY=1", Encoding.ASCII.GetString(buffer, 0, received).Trim());
            // journald's format: each line starts with its syslog priority.
            await Eventually.True(() => Task.FromResult(collector.Output.Contains("<6>", StringComparison.Ordinal)), "journald priorities in the log");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
