using System.Net.Sockets;
using System.Text;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>
/// The collector's end of the ExaBGP process API. ExaBGP runs <c>flowcollector exabgp-relay --socket PATH</c> as
/// its API process; the relay connects to this Unix socket and copies each command line to ExaBGP and each
/// acknowledgement (<c>done</c>/<c>error</c>) back. Why a socket and not ExaBGP's named pipe: a FIFO blocks its
/// writer until a reader opens it, and nobody answers through it; the socket tells at once whether ExaBGP is there
/// and whether it accepted the command. When the relay (re)connects, for instance after ExaBGP restarted and lost
/// its routes, <see cref="Connected"/> fires so that what should be announced is announced again.
/// </summary>
public sealed class ExaBgpSpeaker : IDisposable
{
    private readonly string _path;
    private readonly int _ackTimeoutMilliseconds;
    private readonly Socket _listener;
    private readonly Thread _acceptor;
    private readonly Lock _gate = new();
    private Socket? _relay;
    private StreamReader? _answers;
    private volatile bool _disposed;

    public ExaBgpSpeaker(string path, int ackTimeoutMilliseconds)
    {
        _path = path;
        _ackTimeoutMilliseconds = ackTimeoutMilliseconds;
        // Whatever is at the path stays: the caller has removed a stale socket of an earlier run, and anything else
        // makes the bind fail with the path named.
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));

        // Whoever connects receives the commands and answers for ExaBGP: owner and group only.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }
        _listener.Listen(4);
        _acceptor = new Thread(Accept) { IsBackground = true, Name = "exabgp-relay-accept" };
        _acceptor.Start();
    }

    /// <summary>Raised on the accepting thread when a relay connects.</summary>
    public event Action? Connected;

    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _relay is not null;
            }
        }
    }

    /// <summary>Sends one command and waits for ExaBGP's answer; false with the reason when it is not there or refuses.</summary>
    public bool TrySend(string command, out string failure) => TrySend(command, out _, out failure);

    /// <summary>As <see cref="TrySend(string, out string)"/>; <paramref name="sent"/> says whether the command left at all.</summary>
    public bool TrySend(string command, out bool sent, out string failure)
    {
        ArgumentNullException.ThrowIfNull(command);
        sent = false;
        lock (_gate)
        {
            if (_relay is null || _answers is null)
            {
                failure = "ExaBGP's relay is not connected";
                return false;
            }

            sent = true;

            try
            {
                _relay.Send(Encoding.UTF8.GetBytes(command.ReplaceLineEndings(" ") + "\n"));
                _relay.ReceiveTimeout = _ackTimeoutMilliseconds;
                var answer = _answers.ReadLine();
                if (answer is null)
                {
                    Drop();
                    failure = "ExaBGP's relay went away";
                    return false;
                }

                failure = answer.Trim() == "done" ? string.Empty : $"ExaBGP answered '{answer.Trim()}' to: {command}";
                return failure.Length == 0;
            }
            catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException)
            {
                Drop();
                failure = $"ExaBGP's relay: {exception.Message}";
                return false;
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
        lock (_gate)
        {
            Drop();
        }

        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    private void Accept()
    {
        while (!_disposed)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_gate)
            {
                // The newest relay wins: ExaBGP respawned it, the old one is gone or going.
                Drop();
                _relay = client;
                _answers = new StreamReader(new NetworkStream(client, ownsSocket: false), Encoding.UTF8);
            }

            Connected?.Invoke();
        }
    }

    private void Drop()
    {
        _answers?.Dispose();
        _answers = null;
        _relay?.Dispose();
        _relay = null;
    }
}
