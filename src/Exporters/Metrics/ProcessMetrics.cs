using Prometheus;

namespace FlowCollector.Exporters.Metrics;

/// <summary>
/// The process metrics Prometheus conventions name (process_cpu_seconds_total, process_resident_memory_bytes,
/// process_start_time_seconds, ...), read from /proc/self when scraped, plus the .NET heap size.
/// </summary>
public static class ProcessMetrics
{
    private static readonly long PageSize = Environment.SystemPageSize;

    internal static void Register(CollectorRegistry registry, MetricFactory factory)
    {
        var cpu = factory.CreateCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
        var resident = factory.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        var virtualMemory = factory.CreateGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
        var start = factory.CreateGauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.");
        var descriptors = factory.CreateGauge("process_open_fds", "Number of open file descriptors.");
        var threads = factory.CreateGauge("process_num_threads", "Number of OS threads in the process.");
        var heap = factory.CreateGauge("dotnet_total_memory_bytes", "Bytes allocated on the managed heap and still in use.");
        var process = System.Diagnostics.Process.GetCurrentProcess();
        start.Set(new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        registry.AddBeforeCollectCallback(() =>
        {
            process.Refresh();
            cpu.IncTo(process.TotalProcessorTime.TotalSeconds);
            threads.Set(process.Threads.Count);
            heap.Set(GC.GetTotalMemory(forceFullCollection: false));
            if (TryReadMemory(out var size, out var rss))
            {
                virtualMemory.Set(size);
                resident.Set(rss);
            }

            if (Directory.Exists("/proc/self/fd"))
            {
                descriptors.Set(Directory.GetFileSystemEntries("/proc/self/fd").Length);
            }
        });
    }

    /// <summary>This process's virtual size and resident set in bytes, from /proc/self/statm (false without it).</summary>
    public static bool TryReadMemory(out long virtualBytes, out long residentBytes)
    {
        virtualBytes = residentBytes = 0;
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            if (fields.Length < 2 || !long.TryParse(fields[0], out var size) || !long.TryParse(fields[1], out var resident))
            {
                return false;
            }

            (virtualBytes, residentBytes) = (size * PageSize, resident * PageSize);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
