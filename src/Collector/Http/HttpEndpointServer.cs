using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Http;

/// <summary>Answers one request: sets the response's status and headers, then writes its body.</summary>
internal delegate Task EndpointHandler(HttpResponse response, HttpRequestHead request, CancellationToken cancellation);

/// <summary>One GET endpoint: path, content type, writer; a protected one asks for the API token when one is set.</summary>
internal sealed record Endpoint(string Path, string ContentType, EndpointHandler Write)
{
    public bool Protected => Path.StartsWith("/api/", StringComparison.Ordinal);
}

/// <summary>
/// A deliberately small HTTP/1.1 server for the collector's read-only endpoints: GET and HEAD, keep-alive and
/// pipelining, streamed bodies, bounded request heads answered 400/414/431 when malformed or too large, and an
/// optional bearer token for <c>/api/*</c>. Kestrel was measured against it for router mode (BENCHMARKS.md): it
/// does not fit the 20 MB budget. Idle connections cannot lock the endpoints out: at the connection limit the
/// connection idle the longest is closed to make room, so a scrape always gets through.
/// </summary>
internal sealed partial class HttpEndpointServer : IAsyncDisposable
{
    public const int MaxConnections = 128;
    private const int MaxRequestsPerConnection = 1000;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, Endpoint> _endpoints;
    private readonly byte[]? _apiToken;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Connection, byte> _open = new();
#pragma warning disable CA2213 // Not disposed on purpose: see DisposeAsync.
    private readonly CancellationTokenSource _stopping = new();
#pragma warning restore CA2213
    private Socket? _listener;
    private Task? _accepting;
    private long _evicted;
    private long _rejected;

    public HttpEndpointServer(IEnumerable<Endpoint> endpoints, ILogger logger, string? apiToken = null)
    {
        _endpoints = endpoints.ToDictionary(e => e.Path, StringComparer.Ordinal);
        _logger = logger;
        _apiToken = string.IsNullOrEmpty(apiToken) ? null : Encoding.UTF8.GetBytes("Bearer " + apiToken);
    }

    /// <summary>Where the server listens (with the kernel's port when 0 was asked).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>Connections open now.</summary>
    public int OpenConnections => _open.Count;

    /// <summary>Idle connections closed to make room for a new one.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Requests refused before an endpoint saw them (malformed, too large).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public void Start(IPEndPoint endpoint)
    {
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Sources.SocketOptions.ReuseAddressOnly(_listener);
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true;
        }

        _listener.Bind(endpoint);
        _listener.Listen(512);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptAsync(_listener, _stopping.Token);
        LogListening(_logger, LocalEndPoint);
    }

    /// <summary>Stops accepting and ends open connections. The token source stays undisposed: connections still
    /// winding down may link to it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener?.Dispose();
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }
    }

    private async Task AcceptAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception)
            {
                LogAcceptFailed(_logger, exception);
                continue;
            }

            if (_open.Count >= MaxConnections && !EvictIdlest())
            {
                // Every connection is busy being answered: this one is refused rather than queued without bound.
                Interlocked.Increment(ref _rejected);
                client.Dispose();
                continue;
            }

            var connection = new Connection(client, stopping);
            _open[connection] = 0;
            _ = ServeAsync(connection);
        }
    }

    /// <summary>Closes the connection that has waited longest for a request; false when none is waiting.</summary>
    private bool EvictIdlest()
    {
        Connection? idlest = null;
        foreach (var connection in _open.Keys)
        {
            if (connection.IdleSince is { } since && (idlest is null || since < idlest.IdleSince))
            {
                idlest = connection;
            }
        }

        if (idlest is null)
        {
            return false;
        }

        // Out of the table at once, so that the next accept does not count it or pick it again.
        Interlocked.Increment(ref _evicted);
        _open.TryRemove(idlest, out _);
        idlest.Close();
        return true;
    }

    private async Task ServeAsync(Connection connection)
    {
        var socket = connection.Socket;
        var buffer = ArrayPool<byte>.Shared.Rent(HttpRequestParser.MaxHead);
        try
        {
            socket.NoDelay = true;
            socket.SendTimeout = (int)SendTimeout.TotalMilliseconds;
            var filled = 0;
            for (var served = 0; served < MaxRequestsPerConnection; served++)
            {
                connection.IdleSince = Environment.TickCount64;
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.Closing);
                deadline.CancelAfter(IdleTimeout);

                // A pipelined request may already be in the buffer: parse before reading more.
                HttpRequestHead head;
                int consumed;
                RequestRejection rejection;
                while (!HttpRequestParser.TryParse(buffer.AsSpan(0, filled), out head, out consumed, out rejection))
                {
                    if (rejection != RequestRejection.None)
                    {
                        Interlocked.Increment(ref _rejected);
                        await RejectAsync(socket, rejection, deadline.Token).ConfigureAwait(false);
                        return;
                    }

                    if (filled == buffer.Length)
                    {
                        // The parser reports an oversized head before the buffer fills; kept as a guard.
                        await RejectAsync(socket, RequestRejection.HeadersTooLarge, deadline.Token).ConfigureAwait(false);
                        return;
                    }

                    var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                }

                connection.IdleSince = null;
                filled = Shift(buffer, filled, consumed);
                filled = await SkipBodyAsync(socket, buffer, filled, head.ContentLength, deadline.Token).ConfigureAwait(false);
                if (filled < 0)
                {
                    return;
                }

                if (!await RespondAsync(socket, head, deadline.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _open.TryRemove(connection, out _);
            connection.Close();
        }
    }

    /// <summary>Moves what follows the request head to the front of the buffer; returns how much is there.</summary>
    private static int Shift(byte[] buffer, int filled, int consumed)
    {
        buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
        return filled - consumed;
    }

    /// <summary>Reads and drops a request body, so that it is never taken for the next request; -1 when the client left.</summary>
    private static async Task<int> SkipBodyAsync(Socket socket, byte[] buffer, int filled, long length, CancellationToken cancellation)
    {
        while (length > 0)
        {
            if (filled == 0)
            {
                filled = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellation).ConfigureAwait(false);
                if (filled == 0)
                {
                    return -1;
                }
            }

            var skip = (int)Math.Min(length, filled);
            filled = Shift(buffer, filled, skip);
            length -= skip;
        }

        return filled;
    }

    private static async Task RejectAsync(Socket socket, RequestRejection rejection, CancellationToken cancellation)
    {
        using var response = new HttpResponse(socket, headOnly: false, http11: true, keepAlive: false) { Status = HttpRequestParser.StatusOf(rejection) };
        await response.Body.WriteAsync(Encoding.ASCII.GetBytes(MessageOf(rejection) + "\n"), cancellation).ConfigureAwait(false);
        await response.CompleteAsync(cancellation).ConfigureAwait(false);
    }

    private static string MessageOf(RequestRejection rejection) => rejection switch
    {
        RequestRejection.RequestLineTooLong => $"the request line is longer than {HttpRequestParser.MaxRequestLine} bytes",
        RequestRejection.HeadersTooLarge => $"the request head is longer than {HttpRequestParser.MaxHead} bytes or has more than {HttpRequestParser.MaxHeaders} fields",
        RequestRejection.UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1",
        RequestRejection.BodyTooLarge => "the endpoints take no request body",
        RequestRejection.TransferCoding => "transfer-coded request bodies are not accepted",
        RequestRejection.InvalidContentLength => "invalid Content-Length",
        RequestRejection.MalformedHeader => "malformed header field",
        _ => "malformed request line",
    };

    /// <summary>Answers one request; returns whether the connection stays open.</summary>
    private async Task<bool> RespondAsync(Socket socket, HttpRequestHead request, CancellationToken cancellation)
    {
        using var response = new HttpResponse(socket, headOnly: request.Method == "HEAD", request.Http11, request.KeepAlive);
        if (!_endpoints.TryGetValue(request.Path, out var endpoint) && !TryPrefix(request.Path, out endpoint))
        {
            await PlainAsync(response, 404, "not found").ConfigureAwait(false);
        }
        else if (endpoint.Protected && _apiToken is not null && !Authorized(request.Authorization))
        {
            response.AddHeader("WWW-Authenticate", request.Authorization is null ? "Bearer realm=\"flowcollector\"" : "Bearer realm=\"flowcollector\", error=\"invalid_token\"");
            await PlainAsync(response, 401, "this endpoint needs the API token (Authorization: Bearer ...)").ConfigureAwait(false);
        }
        else if (request.Method is not ("GET" or "HEAD"))
        {
            response.AddHeader("Allow", "GET, HEAD");
            await PlainAsync(response, 405, "only GET and HEAD").ConfigureAwait(false);
        }
        else
        {
            response.ContentType = endpoint.ContentType;
            try
            {
                await endpoint.Write(response, request, cancellation).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A failing endpoint answers 500 and keeps the server serving the others.
            catch (Exception exception) when (exception is not (OperationCanceledException or IOException or SocketException))
#pragma warning restore CA1031
            {
                LogEndpointFailed(_logger, exception, request.Path);
                if (response.Started)
                {
                    // Part of the body has gone: closing is the only way to say it is cut short.
                    return false;
                }

                response.Reset(500);
                await PlainAsync(response, 500, "internal error").ConfigureAwait(false);
            }
        }

        await response.CompleteAsync(cancellation).ConfigureAwait(false);
        return response.KeepAlive;
    }

    /// <summary>An endpoint registered with a trailing slash answers every path under it (e.g. /api/incidents/ID/pcap).</summary>
    private bool TryPrefix(string path, out Endpoint endpoint)
    {
        var slash = path.LastIndexOf('/');
        while (slash > 0)
        {
            if (_endpoints.TryGetValue(path[..(slash + 1)], out endpoint!))
            {
                return true;
            }

            slash = path.LastIndexOf('/', slash - 1);
        }

        endpoint = null!;
        return false;
    }

    private static async Task PlainAsync(HttpResponse response, int status, string message)
    {
        response.Status = status;
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(message + "\n")).ConfigureAwait(false);
    }

    /// <summary>The Authorization header against the token, in constant time.</summary>
    private bool Authorized(string? authorization)
    {
        if (authorization is null || _apiToken is null)
        {
            return false;
        }

        var given = Encoding.UTF8.GetBytes(authorization);
        return CryptographicOperations.FixedTimeEquals(given, _apiToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP: listening on {Endpoint} (/metrics, /healthz, /api)")]
    private static partial void LogListening(ILogger logger, IPEndPoint endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "HTTP: accept failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "HTTP: {Path} failed")]
    private static partial void LogEndpointFailed(ILogger logger, Exception exception, string path);

    /// <summary>One client connection, and since when it has waited for a request (null while one is answered).</summary>
    private sealed class Connection(Socket socket, CancellationToken stopping)
    {
        private readonly CancellationTokenSource _closing = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        private int _closed;
        private long _idleSince = -1;

        public Socket Socket { get; } = socket;

        public CancellationToken Closing => _closing.Token;

        public long? IdleSince
        {
            get => Volatile.Read(ref _idleSince) is var since and >= 0 ? since : null;
            set => Volatile.Write(ref _idleSince, value ?? -1);
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1)
            {
                return;
            }

            _closing.Cancel();
            Socket.Dispose();
            _closing.Dispose();
        }
    }
}
