using System.Buffers.Text;
using System.Text;

namespace FlowCollector.Collector.Http;

/// <summary>Why a request is refused before it reaches an endpoint: a closed set, each with its status.</summary>
internal enum RequestRejection
{
    None,

    /// <summary>The request line is not <c>METHOD SP target SP HTTP/x.y CRLF</c>, or the target is not a path.</summary>
    MalformedRequestLine,

    /// <summary>An HTTP version other than 1.0 and 1.1.</summary>
    UnsupportedVersion,

    /// <summary>The request line is longer than <see cref="HttpRequestParser.MaxRequestLine"/>.</summary>
    RequestLineTooLong,

    /// <summary>The head is longer than <see cref="HttpRequestParser.MaxHead"/>, or has more than <see cref="HttpRequestParser.MaxHeaders"/> fields.</summary>
    HeadersTooLarge,

    /// <summary>A header line without a colon, with a space before it, or with a bare LF or control byte.</summary>
    MalformedHeader,

    /// <summary>A Content-Length that is not a number, or two that differ.</summary>
    InvalidContentLength,

    /// <summary>A body longer than <see cref="HttpRequestParser.MaxBody"/>: the endpoints take none.</summary>
    BodyTooLarge,

    /// <summary>A chunked (or otherwise transfer-coded) request body.</summary>
    TransferCoding,
}

/// <summary>What the server reads of a request head.</summary>
internal readonly record struct HttpRequestHead(string Method, string Path, string Query, bool Http11, bool KeepAlive, long ContentLength, string? Authorization);

/// <summary>
/// Parses one HTTP/1.x request head from the bytes received so far, without allocating until a head is complete.
/// Strict where leniency lets requests be misread: CRLF line ends only, no whitespace before a header's colon, one
/// Content-Length, no transfer coding. Bytes after the head (a pipelined request, a body to skip) are left for the
/// caller, who is told how many bytes the head took.
/// </summary>
internal static class HttpRequestParser
{
    public const int MaxRequestLine = 8 * 1024;
    public const int MaxHead = 16 * 1024;
    public const int MaxHeaders = 64;
    public const int MaxBody = 64 * 1024;

    /// <summary>The status a rejection is answered with.</summary>
    public static int StatusOf(RequestRejection rejection) => rejection switch
    {
        RequestRejection.RequestLineTooLong => 414,
        RequestRejection.HeadersTooLarge => 431,
        RequestRejection.UnsupportedVersion => 505,
        RequestRejection.BodyTooLarge => 413,
        RequestRejection.TransferCoding => 501,
        _ => 400,
    };

    /// <summary>
    /// True with the head and the bytes it took once it is complete; false with <see cref="RequestRejection.None"/>
    /// while more bytes are needed, or with the rejection when it can never become a valid head.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> received, out HttpRequestHead head, out int consumed, out RequestRejection rejection)
    {
        head = default;
        consumed = 0;
        var lineEnd = received.IndexOf((byte)'\n');
        if (lineEnd < 0)
        {
            rejection = received.Length > MaxRequestLine ? RequestRejection.RequestLineTooLong : RequestRejection.None;
            return false;
        }

        if (lineEnd > MaxRequestLine)
        {
            rejection = RequestRejection.RequestLineTooLong;
            return false;
        }

        if (lineEnd == 0 || received[lineEnd - 1] != '\r')
        {
            rejection = RequestRejection.MalformedRequestLine;
            return false;
        }

        if (!TryParseRequestLine(received[..(lineEnd - 1)], out var method, out var target, out var http11, out rejection))
        {
            return false;
        }

        var keepAlive = http11;
        long contentLength = -1;
        string? authorization = null;
        var headers = 0;
        var position = lineEnd + 1;
        while (true)
        {
            var rest = received[position..];
            var end = rest.IndexOf((byte)'\n');
            if (end < 0)
            {
                rejection = position + rest.Length > MaxHead ? RequestRejection.HeadersTooLarge : RequestRejection.None;
                return false;
            }

            if (position + end + 1 > MaxHead)
            {
                rejection = RequestRejection.HeadersTooLarge;
                return false;
            }

            if (end == 0 || rest[end - 1] != '\r')
            {
                rejection = RequestRejection.MalformedHeader;
                return false;
            }

            var line = rest[..(end - 1)];
            position += end + 1;
            if (line.IsEmpty)
            {
                break;
            }

            if (++headers > MaxHeaders)
            {
                rejection = RequestRejection.HeadersTooLarge;
                return false;
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[colon - 1] is (byte)' ' or (byte)'\t' || !IsToken(line[..colon]) || HasControl(line[(colon + 1)..]))
            {
                rejection = RequestRejection.MalformedHeader;
                return false;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                if (ContainsToken(value, "close"u8))
                {
                    keepAlive = false;
                }
                else if (ContainsToken(value, "keep-alive"u8))
                {
                    keepAlive = true;
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out long length, out var used) || used != value.Length || length < 0 || (contentLength >= 0 && contentLength != length))
                {
                    rejection = RequestRejection.InvalidContentLength;
                    return false;
                }

                contentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                rejection = RequestRejection.TransferCoding;
                return false;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Authorization"u8))
            {
                authorization = Encoding.ASCII.GetString(value);
            }
        }

        if (contentLength > MaxBody)
        {
            rejection = RequestRejection.BodyTooLarge;
            return false;
        }

        var mark = target.IndexOf((byte)'?');
        var path = Encoding.ASCII.GetString(mark < 0 ? target : target[..mark]);
        var query = mark < 0 ? string.Empty : Encoding.ASCII.GetString(target[(mark + 1)..]);
        head = new HttpRequestHead(Encoding.ASCII.GetString(method), path, query, http11, keepAlive, Math.Max(0, contentLength), authorization);
        consumed = position;
        rejection = RequestRejection.None;
        return true;
    }

    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> target, out bool http11, out RequestRejection rejection)
    {
        method = target = default;
        http11 = false;
        rejection = RequestRejection.MalformedRequestLine;
        var first = line.IndexOf((byte)' ');
        if (first <= 0)
        {
            return false;
        }

        method = line[..first];
        var rest = line[(first + 1)..];
        var second = rest.IndexOf((byte)' ');
        if (second <= 0 || !IsToken(method))
        {
            return false;
        }

        target = rest[..second];
        var version = rest[(second + 1)..];
        if (target[0] != '/' || HasControl(target) || target.Contains((byte)' '))
        {
            return false;
        }

        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || !char.IsAsciiDigit((char)version[5]) || version[6] != '.' || !char.IsAsciiDigit((char)version[7]))
        {
            return false;
        }

        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            http11 = true;
        }
        else if (!version.SequenceEqual("HTTP/1.0"u8))
        {
            rejection = RequestRejection.UnsupportedVersion;
            return false;
        }

        rejection = RequestRejection.None;
        return true;
    }

    /// <summary>RFC 9110 token characters (method and field names).</summary>
    private static bool IsToken(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b)))
            {
                return false;
            }
        }

        return !bytes.IsEmpty;
    }

    private static bool HasControl(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if ((b < 0x20 && b != '\t') || b == 0x7f)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a comma-separated field value lists the token (case-insensitive).</summary>
    private static bool ContainsToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }

        return false;
    }
}
