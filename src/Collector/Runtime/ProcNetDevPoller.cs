using System.Text;
using FlowCollector.Decoders;
using FlowCollector.Decoders.ProcNetDev;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Runtime;

/// <summary>
/// Reads /proc/net/dev once per tick into a reused buffer and hands the chosen interfaces' counters to the
/// aggregator (include patterns, then exclude patterns; * and ? wildcards). Names are kept once, so a steady poll
/// allocates nothing.
/// </summary>
internal sealed class ProcNetDevPoller
{
    private readonly string _path;
    private readonly string[] _include;
    private readonly string[] _exclude;
    private readonly RateAggregator _aggregator;
    private readonly Dictionary<string, string?> _names = new(StringComparer.Ordinal);
    private byte[] _buffer = new byte[16 * 1024];
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;

    public ProcNetDevPoller(string path, IEnumerable<string> include, IEnumerable<string> exclude, RateAggregator aggregator)
    {
        _path = path;
        _include = [.. include];
        _exclude = [.. exclude];
        _aggregator = aggregator;
    }

    public long Reads { get; private set; }

    public long Failures { get; private set; }

    public long MalformedLines { get; private set; }

    /// <summary>Interfaces read at the last poll.</summary>
    public int Interfaces { get; private set; }

    public void Poll(long timestampMilliseconds)
    {
        int length;
        try
        {
            length = ReadAll();
        }
        catch (IOException)
        {
            Failures++;
            return;
        }
        catch (UnauthorizedAccessException)
        {
            Failures++;
            return;
        }

        var sink = new Sink(this);
        Interfaces = ProcNetDevParser.Parse(_buffer.AsSpan(0, length), timestampMilliseconds, ref sink, out var malformed);
        MalformedLines += malformed;
        Reads++;
    }

    /// <summary>Glob match with * (any run) and ? (any one character).</summary>
    internal static bool Matches(string pattern, ReadOnlySpan<char> name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    private int ReadAll()
    {
        // The file stays open: /proc regenerates its text on every read from offset 0, and opening it anew each
        // second cost more than the parsing.
        _handle ??= File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                var read = RandomAccess.Read(_handle, _buffer.AsSpan(length), length);
                if (read == 0)
                {
                    return length;
                }

                length += read;
            }
        }
        catch (IOException)
        {
            _handle.Dispose();
            _handle = null;
            throw;
        }
    }

    /// <summary>The kept name of an interface, or null when the patterns leave it out.</summary>
    private string? Resolve(ReadOnlySpan<byte> name)
    {
        Span<char> chars = stackalloc char[Math.Min(name.Length, 256)];
        var count = Encoding.ASCII.GetChars(name[..chars.Length], chars);
        var lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars[..count], out var kept))
        {
            return kept;
        }

        var text = new string(chars[..count]);
        var chosen = _include.Any(p => Matches(p, text)) && !_exclude.Any(p => Matches(p, text));
        _names[text] = chosen ? text : null;
        return chosen ? text : null;
    }

    private readonly struct Sink(ProcNetDevPoller poller) : IInterfaceCountersSink
    {
        public void OnInterface(ReadOnlySpan<byte> name, in InterfaceCounters counters)
        {
            var kept = poller.Resolve(name);
            if (kept is null)
            {
                return;
            }

            var named = counters;
            named.Name = kept;
            poller._aggregator.AddCounters(named);
        }
    }
}
