using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace FlowCollector.Collector.Http;

/// <summary>
/// One response. An endpoint sets the status and headers, then writes the body: a body that fits the buffer goes
/// out with its head in one send with a Content-Length (no small packets for Nagle to hold back); a longer one is
/// streamed in chunks (HTTP/1.1) or until the connection closes (HTTP/1.0), so that no response is ever held whole in
/// memory. The status and headers are fixed once the first chunk has gone.
/// </summary>
internal sealed class HttpResponse : IDisposable
{
    public const int BufferSize = 32 * 1024;

    private static readonly byte[] CrLf = "\r\n"u8.ToArray();
    private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private readonly bool _headOnly;
    private readonly bool _http11;
    private readonly List<(string Name, string Value)> _headers = [];
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _filled;

    public HttpResponse(Socket socket, bool headOnly, bool http11, bool keepAlive)
    {
        _socket = socket;
        _headOnly = headOnly;
        _http11 = http11;
        KeepAlive = keepAlive;
        Body = new ResponseStream(this);
    }

    public int Status { get; set; } = 200;

    public string ContentType { get; set; } = "text/plain; charset=utf-8";

    /// <summary>Whether the connection stays open after this response.</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Whether the head has gone out (the body is being streamed).</summary>
    public bool Started { get; private set; }

    /// <summary>Body bytes written so far (counted, not sent, for HEAD).</summary>
    public long BodyLength { get; private set; }

    public Stream Body { get; }

    public void AddHeader(string name, string value)
    {
        if (Started)
        {
            throw new InvalidOperationException("the response has started");
        }

        _headers.Add((name, value));
    }

    /// <summary>Discards what was buffered (an endpoint failed before anything was sent) so that an error can be written instead.</summary>
    public void Reset(int status)
    {
        if (Started)
        {
            throw new InvalidOperationException("the response has started");
        }

        Status = status;
        ContentType = "text/plain; charset=utf-8";
        _headers.Clear();
        _filled = 0;
        BodyLength = 0;
    }

    /// <summary>Sends what is left: the whole response when it fitted, else the last chunk and the end of the body.</summary>
    public async ValueTask CompleteAsync(CancellationToken cancellation)
    {
        if (!Started)
        {
            var head = Head(chunked: false);
            if (_headOnly || _filled == 0)
            {
                await SendAsync(head, cancellation).ConfigureAwait(false);
            }
            else
            {
                await SendAsync([new ArraySegment<byte>(head), new ArraySegment<byte>(_buffer, 0, _filled)], cancellation).ConfigureAwait(false);
            }

            _filled = 0;
            return;
        }

        await FlushChunkAsync(final: true, cancellation).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellation)
    {
        BodyLength += data.Length;
        if (_headOnly)
        {
            return;
        }

        while (!data.IsEmpty)
        {
            var take = Math.Min(data.Length, _buffer.Length - _filled);
            data.Span[..take].CopyTo(_buffer.AsSpan(_filled));
            _filled += take;
            data = data[take..];
            if (_filled == _buffer.Length)
            {
                await FlushChunkAsync(final: false, cancellation).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask FlushChunkAsync(bool final, CancellationToken cancellation)
    {
        var segments = new List<ArraySegment<byte>>(4);
        if (!Started)
        {
            // HTTP/1.0 has no chunks: the body ends when the connection closes.
            Started = true;
            if (!_http11)
            {
                KeepAlive = false;
            }

            segments.Add(Head(chunked: _http11));
        }

        if (_filled > 0)
        {
            if (_http11)
            {
                segments.Add(Encoding.ASCII.GetBytes(_filled.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
                segments.Add(new ArraySegment<byte>(_buffer, 0, _filled));
                segments.Add(CrLf);
            }
            else
            {
                segments.Add(new ArraySegment<byte>(_buffer, 0, _filled));
            }
        }

        if (final && _http11)
        {
            segments.Add(LastChunk);
        }

        if (segments.Count > 0)
        {
            await SendAsync(segments, cancellation).ConfigureAwait(false);
        }

        _filled = 0;
    }

    private byte[] Head(bool chunked)
    {
        var head = new StringBuilder(256);
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {Status} {ReasonOf(Status)}\r\nContent-Type: {ContentType}\r\n");
        if (chunked)
        {
            head.Append("Transfer-Encoding: chunked\r\n");
        }
        else if (!Started)
        {
            // Not started: the whole body (or, for HEAD, its counted length) is known.
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {(_headOnly ? BodyLength : _filled)}\r\n");
        }

        head.Append("Cache-Control: no-store\r\n");
        foreach (var (name, value) in _headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        if (!KeepAlive)
        {
            head.Append("Connection: close\r\n");
        }

        head.Append("\r\n");
        return Encoding.ASCII.GetBytes(head.ToString());
    }

    private async ValueTask SendAsync(byte[] bytes, CancellationToken cancellation)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, cancellation).ConfigureAwait(false);
        }
    }

    private async ValueTask SendAsync(List<ArraySegment<byte>> segments, CancellationToken cancellation)
    {
        // One gathered send: the head and the body leave in the same packets.
        var total = segments.Sum(s => s.Count);
        var sent = await _socket.SendAsync(segments, SocketFlags.None).WaitAsync(cancellation).ConfigureAwait(false);
        if (sent == total)
        {
            return;
        }

        // The kernel took part of it (a full send buffer): the rest goes piece by piece.
        foreach (var segment in segments)
        {
            if (sent >= segment.Count)
            {
                sent -= segment.Count;
                continue;
            }

            var rest = segment.AsMemory(sent);
            sent = 0;
            while (!rest.IsEmpty)
            {
                var wrote = await _socket.SendAsync(rest, SocketFlags.None, cancellation).ConfigureAwait(false);
                rest = rest[wrote..];
            }
        }
    }

    public static string ReasonOf(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Internal Server Error",
    };

    /// <summary>The body as a stream, for writers that take one (JSON, the metrics exporter).</summary>
    private sealed class ResponseStream(HttpResponse response) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
            // Buffered until full or complete: a flush does not make a chunk of every JSON token.
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        // Every endpoint writes asynchronously: a synchronous write would block a thread-pool thread on the socket.
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the response body is written asynchronously");

        public override void Write(ReadOnlySpan<byte> buffer) => throw new NotSupportedException("the response body is written asynchronously");

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            response.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            response.WriteAsync(buffer, cancellationToken);
    }
}
