using System.Text;
using FlowCollector.Decoders;
using FlowCollector.Decoders.ProcNetDev;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Collector.Sources;

/// <summary>
/// Router mode: reads /proc/net/dev once per tick into a reused buffer and hands the chosen interfaces' counters to
/// the aggregator (include patterns, then exclude patterns; * and ? wildcards). Names are kept once, so a steady
/// poll allocates nothing.
/// </summary>
internal sealed class ProcNetDevSource : IPolledSource
{
    private readonly string _path;
    private readonly string[] _include;
    private readonly string[] _exclude;
    private readonly RateAggregator _aggregator;
    private readonly Dictionary<string, string?> _names = new(StringComparer.Ordinal);
    private byte[] _buffer = new byte[16 * 1024];
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;
    private long _reads;
    private long _failures;
    private long _malformedLines;

    public ProcNetDevSource(string path, IEnumerable<string> include, IEnumerable<string> exclude, RateAggregator aggregator)
    {
        _path = path;
        _include = [.. include];
        _exclude = [.. exclude];
        _aggregator = aggregator;
    }

    public string Name => "proc-net-dev";

    public SourceKind Kind => SourceKind.InterfaceCounters;

    public int UdpPort => 0;

    /// <summary>Reads of the file.</summary>
    public long Received => Interlocked.Read(ref _reads);

    public long Rejected => 0;

    public long Dropped => 0;

    public long Failures => Interlocked.Read(ref _failures);

    public long MalformedLines => Interlocked.Read(ref _malformedLines);

    public void ReadEvents(ICollection<KeyValuePair<string, long>> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        events.Add(new("read_failures", Failures));
        events.Add(new("malformed_lines", MalformedLines));
    }

    /// <summary>Nothing to open: the tick polls.</summary>
    public void Start()
    {
    }

    public void Dispose() => _handle?.Dispose();

    /// <summary>Interfaces read at the last poll.</summary>
    public int Interfaces { get; private set; }

    public void Poll(long timestampMilliseconds)
    {
        int length;
        try
        {
            length = ReadAll();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _failures);
            return;
        }

        var sink = new Sink(this);
        Interfaces = ProcNetDevParser.Parse(_buffer.AsSpan(0, length), timestampMilliseconds, ref sink, out var malformed);
        Interlocked.Add(ref _malformedLines, malformed);
        Interlocked.Increment(ref _reads);
    }

    /// <summary>Glob match with * (any run) and ? (any one character), case-sensitive as interface names are.</summary>
    internal static bool Matches(string pattern, ReadOnlySpan<char> name) =>
        System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false);

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

    private readonly struct Sink(ProcNetDevSource poller) : IInterfaceCountersSink
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
