using System.Globalization;
using System.Runtime.InteropServices;
using FlowCollector.Collector.Runtime;

namespace FlowCollector.Collector.Tests.Runtime;

/// <summary>
/// Giving start-up's pages back: a read-only private file mapping loses its resident pages and reads the file again
/// when touched; a mapping holding a written page (as a relocated one does) is never touched, so nothing written is lost.
/// </summary>
public sealed partial class ResidentSetTests
{
    private const int Length = 64 * 1024;
    private const int ProtectRead = 1;
    private const int ProtectWrite = 2;
    private const int MapPrivate = 2;

    [Fact]
    public void UnmapImagePages_ReadOnlyPagesDropped_WrittenPagesKept()
    {
        var directory = Directory.CreateTempSubdirectory("flowcollector-resident-");
        try
        {
            var clean = Map(Path.Combine(directory.FullName, "clean.bin"), written: false);
            var written = Map(Path.Combine(directory.FullName, "written.bin"), written: true);
            var outside = Directory.CreateTempSubdirectory("flowcollector-other-");
            var elsewhere = Map(Path.Combine(outside.FullName, "clean.bin"), written: false);
            try
            {
                Assert.Equal((Length, 0), Resident(clean));
                Assert.Equal((Length, 4096), Resident(written));

                var released = ResidentSet.UnmapImagePages(directory.FullName + "/");

                Assert.Equal(Length, released);
                Assert.Equal(0, Resident(clean).Rss);
                Assert.Equal((Length, 4096), Resident(written));
                Assert.Equal(Length, Resident(elsewhere).Rss);

                // Touched again, the pages come back from the file; the written byte is still the written one.
                for (var offset = 0; offset < Length; offset++)
                {
                    Assert.Equal(Pattern(offset), Marshal.ReadByte(clean, offset));
                }

                Assert.Equal(0xEE, Marshal.ReadByte(written, 0));
                Assert.Equal(Pattern(1), Marshal.ReadByte(written, 1));
            }
            finally
            {
                _ = Unmap(clean, Length);
                _ = Unmap(written, Length);
                _ = Unmap(elsewhere, Length);
                outside.Delete(recursive: true);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void ReturnStartupMemory_InThisProcess_ReportsTheResidentSetAndKeepsRunning()
    {
        var returned = ResidentSet.ReturnStartupMemory(AppContext.BaseDirectory);

        Assert.True(returned.ResidentBefore > 0);
        Assert.True(returned.ResidentAfter > 0);
        Assert.True(returned.ImagePages > 0, "this test assembly is a read-only mapping of a file in the directory");
        // Code in the mappings just given back still runs.
        Assert.Equal("192.0.2.0/24", FlowCollector.Decoders.IpPrefix.Parse("192.0.2.0/24").ToString());
    }

    private static byte Pattern(int offset) => (byte)(offset * 7 + (offset >> 12));

    /// <summary>A private mapping of a new file, every page read; with <paramref name="written"/>, its first page
    /// written and the mapping then made read-only, as the loader leaves relocated data.</summary>
    private static nint Map(string path, bool written)
    {
        var content = new byte[Length];
        for (var offset = 0; offset < Length; offset++)
        {
            content[offset] = Pattern(offset);
        }

        File.WriteAllBytes(path, content);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var address = MapFile(0, Length, written ? ProtectRead | ProtectWrite : ProtectRead, MapPrivate, (int)file.DangerousGetHandle(), 0);
        Assert.NotEqual(-1, address);
        if (written)
        {
            Marshal.WriteByte(address, 0, 0xEE);
            Assert.Equal(0, Protect(address, Length, ProtectRead));
        }

        var sum = 0;
        for (var offset = 0; offset < Length; offset += 4096)
        {
            sum += Marshal.ReadByte(address, offset);
        }

        Assert.True(sum >= 0);
        return address;
    }

    /// <summary>Resident and anonymous bytes of the mapping at <paramref name="address"/>, from /proc/self/smaps.</summary>
    private static (long Rss, long Anonymous) Resident(nint address)
    {
        var header = ((long)address).ToString("x", CultureInfo.InvariantCulture) + "-";
        var inside = false;
        long rss = -1;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.StartsWith(header, StringComparison.Ordinal))
            {
                inside = true;
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                rss = Kibibytes(line) * 1024;
            }
            else if (inside && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                return (rss, Kibibytes(line) * 1024);
            }
        }

        Assert.Fail($"no mapping at {header}");
        return default;
    }

    private static long Kibibytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint MapFile(nint address, nuint length, int protection, int flags, int descriptor, long offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Protect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Unmap(nint address, nuint length);
}
