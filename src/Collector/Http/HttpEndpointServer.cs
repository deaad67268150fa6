using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Http;

/// <summary>Writes a response body and returns its status; <paramref name="query"/> is the request's query string without the '?'.</summary>
internal delegate Task<int> EndpointHandler(Stream body, string query, CancellationToken cancellation);

/// <summary>One GET endpoint: path, content type, writer.</summary>
internal sealed record Endpoint(string Path, string ContentType, EndpointHandler Write);

/// <summary>
/// A deliberately small HTTP/1.1 server for the collector's read-only endpoints (GET and HEAD, keep-alive, bounded
/// request heads, idle timeouts). Kestrel alone puts a Native AOT build above the 20 MB resident budget of router
/// mode; scrapes and API reads need none of what it adds.
/// </summary>
internal sealed partial class HttpEndpointServer : IAsyncDisposable
{
    private const int MaxRequestHead = 8192;
    private const int MaxConnections = 64;
    private const int MaxRequestsPerConnection = 1000;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, Endpoint> _endpoints;
    private readonly ILogger _logger;
#pragma warning disable CA2213 // Not disposed on purpose: see DisposeAsync.
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _connections = new(MaxConnections);
#pragma warning restore CA2213
    private Socket? _listener;
    private Task? _accepting;

    public HttpEndpointServer(IEnumerable<Endpoint> endpoints, ILogger logger)
    {
        _endpoints = endpoints.ToDictionary(e => e.Path, StringComparer.Ordinal);
        _logger = logger;
    }

    /// <summary>Where the server listens (with the kernel's port when 0 was asked).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    public void Start(IPEndPoint endpoint)
    {
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Listeners.SocketOptions.ReuseAddressOnly(_listener);
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true;
        }

        _listener.Bind(endpoint);
        _listener.Listen(128);
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
                await _connections.WaitAsync(stopping).ConfigureAwait(false);
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
                _connections.Release();
                LogAcceptFailed(_logger, exception);
                continue;
            }

            _ = ServeAsync(client, stopping);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxRequestHead);
        try
        {
            using (client)
            await using (var stream = new NetworkStream(client, ownsSocket: false))
            {
                for (var served = 0; served < MaxRequestsPerConnection; served++)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                    idle.CancelAfter(IdleTimeout);
                    var head = await ReadHeadAsync(stream, buffer, idle.Token).ConfigureAwait(false);
                    if (head is null)
                    {
                        return;
                    }

                    if (!await RespondAsync(stream, head.Value, idle.Token).ConfigureAwait(false))
                    {
                        return;
                    }
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
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _connections.Release();
        }
    }

    /// <summary>Reads up to the blank line ending a request head; null when the client closed or sent too much.</summary>
    private static async Task<RequestHead?> ReadHeadAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellation)
    {
        var filled = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return RequestHead.Parse(Encoding.ASCII.GetString(buffer, 0, end));
            }

            if (filled == buffer.Length)
            {
                return null;
            }

            var read = await stream.ReadAsync(buffer.AsMemory(filled, Math.Min(buffer.Length, MaxRequestHead) - filled), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            filled += read;
        }
    }

    /// <summary>Writes the response; returns whether the connection stays open.</summary>
    private async Task<bool> RespondAsync(NetworkStream stream, RequestHead request, CancellationToken cancellation)
    {
        int status;
        string contentType;
        using var body = new MemoryStream();
        if (request.Method is not ("GET" or "HEAD"))
        {
            status = 405;
            contentType = "text/plain; charset=utf-8";
            body.Write("only GET and HEAD\n"u8);
        }
        else if (_endpoints.TryGetValue(request.Path, out var endpoint))
        {
            contentType = endpoint.ContentType;
            try
            {
                status = await endpoint.Write(body, request.Query, cancellation).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A failing endpoint answers 500 and keeps the server serving the others.
            catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
            {
                LogEndpointFailed(_logger, exception, request.Path);
                status = 500;
                contentType = "text/plain; charset=utf-8";
                body.SetLength(0);
                body.Write("internal error\n"u8);
            }
        }
        else
        {
            status = 404;
            contentType = "text/plain; charset=utf-8";
            body.Write("not found\n"u8);
        }

        var reason = status switch { 200 => "OK", 404 => "Not Found", 405 => "Method Not Allowed", 503 => "Service Unavailable", _ => "Internal Server Error" };
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\n{(request.KeepAlive ? string.Empty : "Connection: close\r\n")}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellation).ConfigureAwait(false);
        if (request.Method != "HEAD")
        {
            await stream.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), cancellation).ConfigureAwait(false);
        }

        return request.KeepAlive;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP: listening on {Endpoint} (/metrics, /healthz, /api)")]
    private static partial void LogListening(ILogger logger, IPEndPoint endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "HTTP: accept failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "HTTP: {Path} failed")]
    private static partial void LogEndpointFailed(ILogger logger, Exception exception, string path);

    /// <summary>The parts of a request head the server uses.</summary>
    private readonly record struct RequestHead(string Method, string Path, string Query, bool KeepAlive)
    {
        public static RequestHead? Parse(string head)
        {
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                return null;
            }

            var path = parts[1];
            var query = string.Empty;
            var mark = path.IndexOf('?', StringComparison.Ordinal);
            if (mark >= 0)
            {
                query = path[(mark + 1)..];
                path = path[..mark];
            }

            var keepAlive = parts[2] == "HTTP/1.1";
            foreach (var line in lines.Skip(1))
            {
                if (line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase))
                {
                    var value = line["Connection:".Length..].Trim();
                    keepAlive = value.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) || (keepAlive && !value.Equals("close", StringComparison.OrdinalIgnoreCase));
                }
            }

            return new RequestHead(parts[0], path, query, keepAlive);
        }
    }
}
