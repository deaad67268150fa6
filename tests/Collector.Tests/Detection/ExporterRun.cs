using FlowCollector.Collector.Tests.Support;

namespace FlowCollector.Collector.Tests.Detection;

/// <summary>
/// What the tests that start, kill and restart collectors share: a data directory that outlives each collector, a
/// free NetFlow port, and a <see cref="NetFlowV5Sender"/> sending to it. Disposed after the collectors (declare it
/// first): the sender stops and the directory goes.
/// </summary>
internal sealed class ExporterRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly NetFlowV5Sender _sender;
    private readonly Task _sending;

    public ExporterRun(string directoryPrefix, Func<IReadOnlyList<NetFlowV5Sender.Flow>> flows, string source = "127.0.0.1")
    {
        Data = Directory.CreateTempSubdirectory(directoryPrefix);
        Port = CollectorProcess.FreeUdpPort();
        _sender = new NetFlowV5Sender(Port, source);
        _sending = _sender.RunAsync(flows, _stop.Token);
    }

    public DirectoryInfo Data { get; }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sending;
        _sender.Dispose();
        _stop.Dispose();
        Data.Delete(recursive: true);
    }
}
