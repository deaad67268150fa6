using System.Globalization;

namespace FlowCollector.Exporters.Evidence;

/// <summary>
/// Keeps the incident pcap directory within <c>Capture:Retention</c>: files older than the maximum age go, then the
/// oldest until all of them fit the maximum size. Files being written are left alone.
/// </summary>
internal static class PcapRetention
{
    /// <summary>Deletes what is out of bounds; returns each deleted file with its incident's id.</summary>
    public static List<(long IncidentId, string Path)> Enforce(string directory, PcapRetentionOptions options, DateTimeOffset now, IReadOnlySet<string> inUse)
    {
        var deleted = new List<(long, string)>();
        if (!Directory.Exists(directory))
        {
            return deleted;
        }

        var files = new DirectoryInfo(directory).EnumerateFiles("*.pcap")
            .Where(f => !inUse.Contains(f.FullName) && long.TryParse(Path.GetFileNameWithoutExtension(f.Name), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderBy(f => f.LastWriteTimeUtc)
            .ToList();
        var total = files.Sum(f => f.Length) + inUse.Sum(p => File.Exists(p) ? new FileInfo(p).Length : 0);
        var maxBytes = (long)options.MaxMegabytes * 1024 * 1024;
        var oldest = options.MaxAgeDays == 0 ? DateTime.MinValue : now.UtcDateTime.AddDays(-options.MaxAgeDays);
        foreach (var file in files)
        {
            if (file.LastWriteTimeUtc >= oldest && total <= maxBytes)
            {
                break;
            }

            var length = file.Length;
            try
            {
                file.Delete();
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            total -= length;
            deleted.Add((long.Parse(Path.GetFileNameWithoutExtension(file.Name), CultureInfo.InvariantCulture), file.FullName));
        }

        return deleted;
    }
}
