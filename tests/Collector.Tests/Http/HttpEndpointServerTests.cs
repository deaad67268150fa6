using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FlowCollector.Collector.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowCollector.Collector.Tests.Http;

/// <summary>The server over real loopback connections, with endpoints of the test's own.</summary>
public sealed class HttpEndpointServerTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef-token";
    private static readonly byte[] Big = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i:D6}\n")));
    private readonly HttpEndpointServer _server = new(
        [
            new Endpoint("/small", "text/plain", (response, _, _) => response.Body.WriteAsync("hello\n"u8.ToArray()).AsTask()),
            new Endpoint("/big", "text/plain", async (response, _, cancellation) =>
            {
                for (var offset = 0; offset < Big.Length; offset += 1000)
                {
                    await response.Body.WriteAsync(Big.AsMemory(offset, Math.Min(1000, Big.Length - offset)), cancellation);
                }
            }),
            new Endpoint("/degraded", "text/plain", (response, _, _) =>
            {
                response.Status = 503;
                return response.Body.WriteAsync("degraded\n"u8.ToArray()).AsTask();
            }),
            new Endpoint("/fail", "text/plain", (_, _, _) => throw new InvalidOperationException("broken endpoint")),
            new Endpoint("/api/data", "application/json", (response, request, _) => response.Body.WriteAsync(Encoding.ASCII.GetBytes($"{{\"query\":\"{request.Query}\"}}")).AsTask()),
        ],
        NullLogger.Instance,
        Token);

    public ValueTask InitializeAsync()
    {
        _server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        await socket.ConnectAsync(_server.LocalEndPoint!);
        return socket;
    }

    private async Task<Response> AskAsync(string request)
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        return await new ResponseReader(socket).ReadAsync(headOnly: request.StartsWith("HEAD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_PipelinedRequests_AnswersAllInOrderAndSkipsBodies()
    {
        const string Body = "GET /api/data HTTP/1.1\r\n\r\n";
        using var socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            "GET /small HTTP/1.1\r\n\r\n" +
            $"POST /small HTTP/1.1\r\nContent-Length: {Body.Length}\r\n\r\n{Body}" +
            "HEAD /big HTTP/1.1\r\n\r\n" +
            "GET /api/data?x=1 HTTP/1.1\r\nAuthorization: Bearer " + Token + "\r\n\r\n"));
        var reader = new ResponseReader(socket);

        var first = await reader.ReadAsync();
        var second = await reader.ReadAsync();
        var third = await reader.ReadAsync(headOnly: true);
        var fourth = await reader.ReadAsync();

        Assert.Equal((200, "hello\n"), (first.Status, first.Body));
        Assert.Equal((405, "GET, HEAD"), (second.Status, second.Headers["allow"]));
        Assert.Equal((200, Big.Length.ToString(CultureInfo.InvariantCulture), ""), (third.Status, third.Headers["content-length"], third.Body));
        Assert.Equal((200, "{\"query\":\"x=1\"}"), (fourth.Status, fourth.Body));
    }

    [Fact]
    public async Task Serve_SmallResponse_LeavesInOneSendSoKeepAliveNeverWaits()
    {
        using var socket = await ConnectAsync();
        var buffer = new byte[4096];
        for (var i = 0; i < 20; i++)
        {
            await socket.SendAsync("GET /small HTTP/1.1\r\n\r\n"u8.ToArray());

            // Head and body written separately would arrive in two segments, the second held back by Nagle's
            // algorithm until the client's delayed acknowledgement (about 40 ms) on every request after the first.
            var read = await socket.ReceiveAsync(buffer);
            var text = Encoding.ASCII.GetString(buffer, 0, read);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", text, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\nhello\n", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Serve_LongBody_StreamsChunksThatReassembleWhole()
    {
        var response = await AskAsync("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");

        Assert.Equal("chunked", response.Headers["transfer-encoding"]);
        Assert.False(response.Headers.ContainsKey("content-length"));
        Assert.Equal(Encoding.ASCII.GetString(Big), response.Body);
    }

    [Fact]
    public async Task Serve_LongBodyToHttp10_EndsWithTheConnection()
    {
        var response = await AskAsync("GET /big HTTP/1.0\r\n\r\n");

        Assert.Equal("close", response.Headers["connection"]);
        Assert.False(response.Headers.ContainsKey("transfer-encoding"));
        Assert.Equal(Encoding.ASCII.GetString(Big), response.Body);
    }

    [Theory]
    [InlineData("GET /small HTTX/1.1\r\n\r\n", 400)]
    [InlineData("GET /small HTTP/1.1\r\nHost x\r\n\r\n", 400)]
    [InlineData("GET /small HTTP/3.0\r\n\r\n", 505)]
    [InlineData("GET /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501)]
    [InlineData("GET /small HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 413)]
    public async Task Serve_MalformedRequest_AnswersItsStatusAndCloses(string request, int status)
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var reader = new ResponseReader(socket);

        var response = await reader.ReadAsync();

        Assert.Equal((status, "close"), (response.Status, response.Headers["connection"]));
        Assert.True(await reader.ClosedAsync());
    }

    [Fact]
    public async Task Serve_OverlongLineOrHead_Answers414Or431()
    {
        Assert.Equal(414, (await AskAsync("GET /small?" + new string('q', 9000) + " HTTP/1.1\r\n\r\n")).Status);
        Assert.Equal(431, (await AskAsync("GET /small HTTP/1.1\r\nCookie: " + new string('c', 17_000) + "\r\n\r\n")).Status);
    }

    [Fact]
    public async Task Serve_EndpointFails_Answers500AndServesTheNextRequest()
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync("GET /fail HTTP/1.1\r\n\r\nGET /degraded HTTP/1.1\r\n\r\n"u8.ToArray());
        var reader = new ResponseReader(socket);

        Assert.Equal(500, (await reader.ReadAsync()).Status);
        var degraded = await reader.ReadAsync();
        Assert.Equal((503, "degraded\n"), (degraded.Status, degraded.Body));
    }

    [Fact]
    public async Task Serve_ApiToken_ProtectsTheApiAndLeavesOtherEndpointsOpen()
    {
        var none = await AskAsync("GET /api/data HTTP/1.1\r\n\r\n");
        var wrong = await AskAsync("GET /api/data HTTP/1.1\r\nAuthorization: Bearer 0123456789abcdef-tokeN\r\n\r\n");
        var right = await AskAsync("GET /api/data HTTP/1.1\r\nAuthorization: Bearer " + Token + "\r\n\r\n");
        var open = await AskAsync("GET /small HTTP/1.1\r\n\r\n");

        Assert.Equal((401, "Bearer realm=\"flowcollector\""), (none.Status, none.Headers["www-authenticate"]));
        Assert.Equal((401, "Bearer realm=\"flowcollector\", error=\"invalid_token\""), (wrong.Status, wrong.Headers["www-authenticate"]));
        Assert.Equal(200, right.Status);
        Assert.Equal(200, open.Status);
    }

    [Fact]
    public async Task Accept_IdleConnectionsBeyondTheLimit_MakeRoomForAScrape()
    {
        // Slowloris: more connections than the server keeps, some silent, some sending a head a byte at a time.
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < HttpEndpointServer.MaxConnections + 30; i++)
            {
                var socket = await ConnectAsync();
                if (i % 2 == 0)
                {
                    await socket.SendAsync("GET /sm"u8.ToArray());
                }

                idle.Add(socket);
            }

            var response = await AskAsync("GET /small HTTP/1.1\r\n\r\n");

            Assert.Equal((200, "hello\n"), (response.Status, response.Body));
            Assert.True(_server.Evicted >= 30, $"{_server.Evicted} evicted");
            Assert.True(_server.OpenConnections <= HttpEndpointServer.MaxConnections + 1, $"{_server.OpenConnections} open");
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    private sealed record Response(int Status, Dictionary<string, string> Headers, string Body);

    /// <summary>Reads responses off a connection: Content-Length, chunked, or until the connection closes.</summary>
    private sealed class ResponseReader(Socket socket)
    {
        private readonly List<byte> _pending = [];

        public async Task<Response> ReadAsync(bool headOnly = false)
        {
            var headEnd = await UntilAsync("\r\n\r\n"u8.ToArray());
            var head = Encoding.ASCII.GetString(Take(headEnd + 4)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var status = int.Parse(head[0].Split(' ')[1], CultureInfo.InvariantCulture);
            var headers = head.Skip(1).Select(l => l.Split(": ", 2)).ToDictionary(p => p[0].ToLowerInvariant(), p => p[1]);
            if (headOnly)
            {
                return new Response(status, headers, string.Empty);
            }

            var body = new List<byte>();
            if (headers.TryGetValue("content-length", out var length))
            {
                await FillAsync(int.Parse(length, CultureInfo.InvariantCulture));
                body.AddRange(Take(int.Parse(length, CultureInfo.InvariantCulture)));
            }
            else if (headers.GetValueOrDefault("transfer-encoding") == "chunked")
            {
                while (true)
                {
                    var lineEnd = await UntilAsync("\r\n"u8.ToArray());
                    var size = int.Parse(Encoding.ASCII.GetString(Take(lineEnd + 2)).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    await FillAsync(size + 2);
                    body.AddRange(Take(size + 2).AsSpan(0, size).ToArray());
                    if (size == 0)
                    {
                        break;
                    }
                }
            }
            else
            {
                while (await ReceiveAsync())
                {
                }

                body.AddRange(Take(_pending.Count));
            }

            return new Response(status, headers, Encoding.ASCII.GetString([.. body]));
        }

        public async Task<bool> ClosedAsync() => _pending.Count == 0 && !await ReceiveAsync();

        private async Task<int> UntilAsync(byte[] marker)
        {
            while (true)
            {
                var index = IndexOf(marker);
                if (index >= 0)
                {
                    return index;
                }

                Assert.True(await ReceiveAsync(), "the connection closed before the response was complete");
            }
        }

        private async Task FillAsync(int count)
        {
            while (_pending.Count < count)
            {
                Assert.True(await ReceiveAsync(), "the connection closed before the body was complete");
            }
        }

        private int IndexOf(byte[] marker) => _pending.ToArray().AsSpan().IndexOf(marker);

        private byte[] Take(int count)
        {
            var taken = _pending.GetRange(0, count).ToArray();
            _pending.RemoveRange(0, count);
            return taken;
        }

        private async Task<bool> ReceiveAsync()
        {
            var buffer = new byte[65536];
            int read;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException)
            {
                return false;
            }

            _pending.AddRange(buffer.AsSpan(0, read).ToArray());
            return read > 0;
        }
    }
}
