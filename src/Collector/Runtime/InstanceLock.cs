using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace FlowCollector.Collector.Runtime;

/// <summary>
/// One collector per data directory: an exclusive flock(2) on <c>flowcollector.lock</c> in it (and beside the
/// database when that lives elsewhere), held for the life of the process and released by the kernel however it
/// ends. A second copy would otherwise close the first one's incidents as <c>restart</c> and delete its rules. The
/// file is opened with open(2) itself: .NET's FileStream takes locks of its own that would answer for ours.
/// </summary>
internal sealed partial class InstanceLock : IDisposable
{
    private const int ReadOnly = 0x0;
    private const int ReadWrite = 0x2;
    private const int Create = 0x40;
    private const int CloseOnExec = 0x80000;
    private const int OwnerReadWrite = 0x180;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int WouldBlock = 11;

    private readonly List<int> _descriptors;

    private InstanceLock(List<int> descriptors) => _descriptors = descriptors;

    public static bool TryAcquire(IEnumerable<string> paths, out InstanceLock? held, out string error)
    {
        var descriptors = new List<int>();
        foreach (var path in paths.Distinct(StringComparer.Ordinal))
        {
            if (!TryLock(path, out var descriptor, out error))
            {
                descriptors.ForEach(Release);
                held = null;
                return false;
            }

            descriptors.Add(descriptor);
        }

        held = new InstanceLock(descriptors);
        error = string.Empty;
        return true;
    }

    public void Dispose()
    {
        _descriptors.ForEach(Release);
        _descriptors.Clear();
    }

    private static bool TryLock(string path, out int descriptor, out string error)
    {
        descriptor = Open(path, ReadWrite | Create | CloseOnExec, OwnerReadWrite);
        if (descriptor < 0)
        {
            error = $"cannot open the lock file {path} (errno {Marshal.GetLastPInvokeError()})";
            return false;
        }

        if (Flock(descriptor, LockExclusive | LockNonBlocking) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Release(descriptor);
            descriptor = -1;
            error = errno == WouldBlock
                ? $"another flowcollector{Holder(path)} is running with {Path.GetDirectoryName(path)} (it holds {path}); stop it first, or give this one a data directory of its own (--data-dir)"
                : $"cannot lock {path} (errno {errno})";
            return false;
        }

        // Who holds it, for the message a second copy prints.
        var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        _ = Truncate(descriptor, 0);
        _ = PositionalWrite(descriptor, pid, pid.Length, 0);
        error = string.Empty;
        return true;
    }

    private static string Holder(string path)
    {
        var descriptor = Open(path, ReadOnly | CloseOnExec, 0);
        if (descriptor < 0)
        {
            return string.Empty;
        }

        var buffer = new byte[32];
        var read = Read(descriptor, buffer, buffer.Length);
        Release(descriptor);
        var text = read > 0 ? Encoding.ASCII.GetString(buffer, 0, (int)read).Trim() : string.Empty;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? $" (pid {pid})" : string.Empty;
    }

    /// <summary>Closes a descriptor; closing releases its lock, and there is nothing to do if that fails.</summary>
    private static void Release(int descriptor) => _ = Close(descriptor);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int descriptor, int operation);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Truncate(int descriptor, long length);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PositionalWrite(int descriptor, [In] byte[] buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int descriptor, [Out] byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);
}
