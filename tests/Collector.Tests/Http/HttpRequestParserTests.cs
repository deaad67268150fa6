using System.Text;
using FlowCollector.Collector.Http;

namespace FlowCollector.Collector.Tests.Http;

public sealed class HttpRequestParserTests
{
    private const string Scrape = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9750\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n";

    private static bool Parse(string text, out HttpRequestHead head, out int consumed, out RequestRejection rejection) =>
        HttpRequestParser.TryParse(Encoding.ASCII.GetBytes(text), out head, out consumed, out rejection);

    [Fact]
    public void TryParse_CompleteHead_ReturnsPathQueryAndLength()
    {
        const string Request = "GET /api/incidents?open=true&limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n";
        Assert.True(Parse(Request + "GET /", out var head, out var consumed, out _));

        Assert.Equal(new HttpRequestHead("GET", "/api/incidents", "open=true&limit=5", Http11: true, KeepAlive: true, 0, "Bearer abc"), head);
        Assert.Equal(Request.Length, consumed);
    }

    [Fact]
    public void TryParse_EveryPrefixOfAValidHead_AsksForMoreAndNeverRejects()
    {
        var bytes = Encoding.ASCII.GetBytes(Scrape);
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(HttpRequestParser.TryParse(bytes.AsSpan(0, length), out _, out _, out var rejection), $"{length} bytes");
            Assert.Equal(RequestRejection.None, rejection);
        }

        Assert.True(HttpRequestParser.TryParse(bytes, out _, out var consumed, out _));
        Assert.Equal(bytes.Length, consumed);
    }

    [Fact]
    public void TryParse_PipelinedRequests_ParsesEachFromWhatThePreviousLeft()
    {
        var bytes = Encoding.ASCII.GetBytes(Scrape + "HEAD /healthz HTTP/1.1\r\n\r\nGET /api/interfaces HTTP/1.1\r\nConnection: close\r\n\r\n");
        var paths = new List<(string, string, bool)>();
        var offset = 0;
        while (HttpRequestParser.TryParse(bytes.AsSpan(offset), out var head, out var consumed, out _))
        {
            paths.Add((head.Method, head.Path, head.KeepAlive));
            offset += consumed;
        }

        Assert.Equal([("GET", "/metrics", true), ("HEAD", "/healthz", true), ("GET", "/api/interfaces", false)], paths);
        Assert.Equal(bytes.Length, offset);
    }

    [Theory]
    [InlineData("GET /metrics HTTP/1.0\r\n\r\n", false)]
    [InlineData("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true)]
    [InlineData("GET /metrics HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", false)]
    [InlineData("GET /metrics HTTP/1.1\r\nconnection:  upgrade\r\n\r\n", true)]
    public void TryParse_ConnectionField_DecidesKeepAliveWithTheVersion(string request, bool keepAlive)
    {
        Assert.True(Parse(request, out var head, out _, out _));
        Assert.Equal(keepAlive, head.KeepAlive);
    }

    [Fact]
    public void TryParse_ContentLength_IsReadSoTheBodyIsNotANextRequest()
    {
        const string Head = "POST /metrics HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
        Assert.True(Parse(Head + "GET / HTTP/", out var head, out var consumed, out _));
        Assert.Equal((11L, Head.Length), (head.ContentLength, consumed));
    }

    [Theory]
    [InlineData("GET /metrics\r\n\r\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("GET metrics HTTP/1.1\r\n\r\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("GET /metrics HTTP/1.1\n\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("G(T /metrics HTTP/1.1\r\n\r\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("GET /metrics HTTP/2.0\r\n\r\n", nameof(RequestRejection.UnsupportedVersion), 505)]
    [InlineData("GET /metrics HTTX/1.1\r\n\r\n", nameof(RequestRejection.MalformedRequestLine), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", nameof(RequestRejection.MalformedHeader), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", nameof(RequestRejection.MalformedHeader), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\n\r\n", nameof(RequestRejection.MalformedHeader), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\n: x\r\n\r\n", nameof(RequestRejection.MalformedHeader), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nX: a\u0001b\r\n\r\n", nameof(RequestRejection.MalformedHeader), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", nameof(RequestRejection.InvalidContentLength), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", nameof(RequestRejection.InvalidContentLength), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", nameof(RequestRejection.InvalidContentLength), 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", nameof(RequestRejection.BodyTooLarge), 413)]
    [InlineData("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", nameof(RequestRejection.TransferCoding), 501)]
    public void TryParse_MalformedHead_RejectsWithReasonAndStatus(string request, string expected, int status)
    {
        Assert.False(Parse(request, out _, out _, out var rejection));
        Assert.Equal(expected, rejection.ToString());
        Assert.Equal(status, HttpRequestParser.StatusOf(rejection));
    }

    [Fact]
    public void TryParse_RequestLineBeyondLimit_Rejects414AsSoonAsPassed()
    {
        var line = "GET /" + new string('a', HttpRequestParser.MaxRequestLine);

        Assert.False(Parse(line, out _, out _, out var rejection));
        Assert.Equal((RequestRejection.RequestLineTooLong, 414), (rejection, HttpRequestParser.StatusOf(rejection)));
        Assert.False(Parse(line + " HTTP/1.1\r\n\r\n", out _, out _, out rejection));
        Assert.Equal(RequestRejection.RequestLineTooLong, rejection);
    }

    [Fact]
    public void TryParse_HeadBeyondSizeOrFieldCount_Rejects431()
    {
        var big = "GET / HTTP/1.1\r\nCookie: " + new string('c', HttpRequestParser.MaxHead);
        var many = "GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, HttpRequestParser.MaxHeaders + 1).Select(i => $"X-{i}: {i}\r\n")) + "\r\n";

        Assert.False(Parse(big, out _, out _, out var rejection));
        Assert.Equal((RequestRejection.HeadersTooLarge, 431), (rejection, HttpRequestParser.StatusOf(rejection)));
        Assert.False(Parse(many, out _, out _, out rejection));
        Assert.Equal(RequestRejection.HeadersTooLarge, rejection);
    }
}
