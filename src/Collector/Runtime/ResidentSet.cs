using System.Globalization;
using System.Runtime.InteropServices;
using FlowCollector.Exporters.Metrics;

namespace FlowCollector.Collector.Runtime;

/// <summary>What <see cref="ResidentSet.ReturnStartupMemory"/> gave back.</summary>
/// <param name="ImagePages">Bytes of the executable's and its libraries' read-only pages unmapped.</param>
/// <param name="ResidentBefore">The process's resident set before, in bytes (0 when /proc cannot tell).</param>
/// <param name="ResidentAfter">The process's resident set after, in bytes.</param>
internal readonly record struct StartupMemory(long ImagePages, long ResidentBefore, long ResidentAfter);

/// <summary>
/// Start-up (configuration binding, the host, the store's migration) touches code and leaves garbage that the
/// running collector never uses again; on a router every megabyte resident counts, so once started the collector
/// gives them back. The GC compacts and decommits what start-up left, and the clean read-only pages of the
/// executable and its libraries are unmapped: the kernel maps back, from the page cache, only the pages the running
/// collector touches.
/// </summary>
internal static partial class ResidentSet
{
    private const int AdviseDontNeed = 4;

    /// <summary>Returns start-up's memory; <paramref name="directory"/> holds the executable and its libraries.</summary>
    public static StartupMemory ReturnStartupMemory(string directory)
    {
        _ = ProcessMetrics.TryReadMemory(out _, out var before);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TrimNativeHeap();
        var imagePages = UnmapImagePages(directory);
        _ = ProcessMetrics.TryReadMemory(out _, out var after);
        return new StartupMemory(imagePages, before, after);
    }

    /// <summary>
    /// Unmaps the resident pages of every read-only, private mapping of a file under <paramref name="directory"/>
    /// that holds no page of its own (no relocated or otherwise written page: dropping one of those would bring the
    /// file's original bytes back). Returns the bytes that were resident.
    /// </summary>
    public static long UnmapImagePages(string directory)
    {
        long released = 0;
        Mapping? current = null;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (Mapping.TryParseHeader(line, out var next))
            {
                released += current?.Release(directory) ?? 0;
                current = next;
            }
            else if (current is not null && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                current.ResidentBytes = Kibibytes(line) * 1024;
            }
            else if (current is not null && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                current.AnonymousBytes = Kibibytes(line) * 1024;
            }
        }

        return released + (current?.Release(directory) ?? 0);
    }

    /// <summary>glibc keeps freed blocks; other C libraries have no malloc_trim, and lose nothing by skipping it.</summary>
    private static void TrimNativeHeap()
    {
        try
        {
            _ = MallocTrim(0);
        }
        catch (EntryPointNotFoundException)
        {
        }
    }

    private static long Kibibytes(string line)
    {
        var value = line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim();
        var space = value.IndexOf(' ');
        return long.Parse(space < 0 ? value : value[..space], NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>One line of /proc/self/smaps that opens a mapping: <c>start-end perms offset dev inode [path]</c>.</summary>
    private sealed record Mapping(nint Start, nint End, string Permissions, string Path)
    {
        public long ResidentBytes { get; set; }

        /// <summary>-1 until read: a mapping whose count was not seen is never released.</summary>
        public long AnonymousBytes { get; set; }

        public static bool TryParseHeader(string line, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Mapping? mapping)
        {
            mapping = null;
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            // Field lines start with "Name:"; a mapping's first field is its address range.
            if (space <= 0 || line[space - 1] == ':')
            {
                return false;
            }

            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            var dash = fields[0].IndexOf('-', StringComparison.Ordinal);
            if (fields.Length < 5 || dash < 0
                || !long.TryParse(fields[0].AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
                || !long.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end))
            {
                return false;
            }

            mapping = new Mapping((nint)start, (nint)end, fields[1], fields.Length == 6 ? fields[5].Trim() : string.Empty) { AnonymousBytes = -1 };
            return true;
        }

        public long Release(string directory)
        {
            var releasable = Path.StartsWith(directory, StringComparison.Ordinal)
                && Permissions.Length == 4 && Permissions[1] != 'w' && Permissions[3] == 'p'
                && AnonymousBytes == 0 && ResidentBytes > 0;
            return releasable && Advise(Start, (nuint)(End - Start), AdviseDontNeed) == 0 ? ResidentBytes : 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Advise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
