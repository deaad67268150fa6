using System.Net.Sockets;

namespace FlowCollector.Collector.Runtime;

/// <summary>
/// Makes a Unix socket path free for the collector to listen on without harming anything: nothing there is fine, a
/// socket nobody listens on any more (an earlier run that was killed) is removed, and anything else, a socket with a
/// live listener (another collector), a file or a directory, is left where it is and named in the error.
/// </summary>
internal static class SocketPath
{
    public static bool TryClaim(string path, out string error)
    {
        if (!FileFacts.TryStat(path, out var mode, out _, out var errno))
        {
            error = errno == FileFacts.NoSuchFile ? string.Empty : $"cannot look at {path} (errno {errno})";
            return errno == FileFacts.NoSuchFile;
        }

        if ((mode & FileFacts.TypeMask) != FileFacts.SocketType)
        {
            error = $"{path} exists and is not a socket; it is left alone (remove it, or choose another path)";
            return false;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                error = $"another process (another flowcollector?) listens on {path}";
                return false;
            }
            catch (SocketException)
            {
                // Refused: the socket of a run that ended without removing it.
            }
        }

        File.Delete(path);
        error = string.Empty;
        return true;
    }
}
