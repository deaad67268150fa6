using System.Runtime.InteropServices;

namespace FlowCollector.Collector.Runtime;

/// <summary>What .NET does not say about a file: its type and its owner (statx(2)), and who this process is.</summary>
internal static partial class FileFacts
{
    public const int TypeMask = 0xF000;
    public const int SocketType = 0xC000;
    public const int NoSuchFile = 2;

    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxTypeModeAndUid = 0x1 | 0x2 | 0x8;
    private const int StatxUidOffset = 20;
    private const int StatxModeOffset = 28;
    private const int StatxSize = 256;

    /// <summary>The file's st_mode (type and permission bits) and owner, without following a symbolic link; false with errno otherwise.</summary>
    public static bool TryStat(string path, out int mode, out uint owner, out int errno)
    {
        var buffer = new byte[StatxSize];
        if (Statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxTypeModeAndUid, buffer) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            mode = 0;
            owner = 0;
            return false;
        }

        errno = 0;
        mode = BitConverter.ToUInt16(buffer, StatxModeOffset);
        owner = BitConverter.ToUInt32(buffer, StatxUidOffset);
        return true;
    }

    /// <summary>The effective user id of this process.</summary>
    public static uint EffectiveUser() => GetEffectiveUserId();

    // statx(2): its structure is laid out the same on every architecture, unlike stat(2)'s.
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
