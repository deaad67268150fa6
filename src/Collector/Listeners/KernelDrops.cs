using System.Globalization;

namespace FlowCollector.Collector.Listeners;

/// <summary>
/// Datagrams the kernel dropped on UDP sockets of a local port because the receive buffer was full: the "drops"
/// column of /proc/net/udp and /proc/net/udp6, summed over the sockets bound to the port.
/// </summary>
internal static class KernelDrops
{
    public static long Read(int port)
    {
        return Sum("/proc/net/udp", port) + Sum("/proc/net/udp6", port);
    }

    private static long Sum(string path, int port)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        long drops = 0;
        var suffix = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines(path))
        {
            // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 13 || !fields[1].EndsWith(suffix, StringComparison.Ordinal))
            {
                continue;
            }

            if (long.TryParse(fields[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                drops += value;
            }
        }

        return drops;
    }
}
