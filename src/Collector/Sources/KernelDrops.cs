using System.Globalization;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Datagrams the kernel dropped on UDP sockets of local ports because the receive buffer was full: the "drops"
/// column of /proc/net/udp and /proc/net/udp6, summed over the sockets bound to each port. Reading either file walks
/// the kernel's whole UDP table, so every port is counted in one pass over each.
/// </summary>
internal static class KernelDrops
{
    /// <summary>The drops of each of <paramref name="ports"/>, in the same order; 0 for a port of 0.</summary>
    public static long[] Read(IReadOnlyList<int> ports)
    {
        var drops = new long[ports.Count];
        if (ports.Any(port => port != 0))
        {
            Add("/proc/net/udp", ports, drops);
            Add("/proc/net/udp6", ports, drops);
        }

        return drops;
    }

    private static void Add(string path, IReadOnlyList<int> ports, long[] drops)
    {
        if (!File.Exists(path))
        {
            return;
        }

        foreach (var line in File.ReadLines(path))
        {
            // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var colon = fields.Length < 13 ? -1 : fields[1].LastIndexOf(':');
            if (colon < 0
                || !int.TryParse(fields[1].AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port)
                || port == 0
                || !long.TryParse(fields[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i] == port)
                {
                    drops[i] += value;
                }
            }
        }
    }
}
