using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Templates;

namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// Everything the decoder remembers about one exporter: its templates keyed by (version, domain, template ID),
/// announced sampling rates, sequence streams, data sets waiting for a template, and counters.
/// </summary>
public sealed class ExporterState
{
    private const int MaxDomains = 1024;

    private readonly ExporterTable _table;
    private readonly FlowDecoderOptions _options;
    private readonly long _templateLifetimeMilliseconds;
    private readonly Dictionary<ulong, Template> _templates = [];
    private readonly Dictionary<uint, long> _systemInitTimes = [];
    private SFlow.SFlowSources? _sflowSources;
    private int _templateBytes;

    internal ExporterState(NetworkAddress address, ExporterTable table, FlowDecoderOptions options)
    {
        Address = address;
        _table = table;
        _options = options;
        _templateLifetimeMilliseconds = (long)options.TemplateLifetime.TotalMilliseconds;
        Pending = new PendingDataSets(options.PendingSetsPerExporter, options.PendingBytesPerExporter, options.PendingDataLifetime, table);
    }

    public NetworkAddress Address { get; }

    public ExporterStatistics Statistics { get; } = new();

    public int TemplateCount => _templates.Count;

    /// <summary>Memory the exporter's templates hold.</summary>
    public int TemplateBytes => Volatile.Read(ref _templateBytes);

    /// <summary>
    /// The exporter has delivered a flow record or an interface counter sample: it is a real exporter, not a sender
    /// of junk, and is the last to make room in a full table.
    /// </summary>
    public bool IsProductive => Statistics.Records > 0 || Statistics.CounterRecords > 0;

    public int PendingDataSetCount => Pending.Count;

    public long LastSeenMilliseconds { get; internal set; }

    /// <summary>Sequence accounting per (version, domain); the totals are in <see cref="Statistics"/>.</summary>
    public SequenceStreamStatistics[] SequenceStreams => Sequences.Snapshot();

    internal SamplingTable Sampling { get; } = new();

    /// <summary>sFlow data sources of this agent, created when the first sFlow sample arrives.</summary>
    internal SFlow.SFlowSources SFlowSources => _sflowSources ??= new SFlow.SFlowSources();

    internal SequenceTracker Sequences { get; } = new();

    internal PendingDataSets Pending { get; }

    /// <summary>Template key: version, observation domain and template ID in one integer.</summary>
    internal static ulong TemplateKey(byte version, uint domain, ushort templateId) =>
        ((ulong)version << 48) | ((ulong)domain << 16) | templateId;

    internal Template? FindTemplate(ulong key, long nowMilliseconds)
    {
        if (!_templates.TryGetValue(key, out var template))
        {
            return null;
        }

        if (IsExpired(template, nowMilliseconds))
        {
            Remove(key);
            Statistics.TemplatesExpired++;
            return null;
        }

        return template;
    }

    /// <summary>
    /// Decides what to do with a received template definition: refresh the identical one in place, or make room
    /// for a new or changed one. Returns false (and counts) when a limit leaves no room.
    /// </summary>
    internal bool TryRefresh(ulong key, ReadOnlySpan<byte> definition, bool isOptions, long nowMilliseconds, out bool needsCompile)
    {
        var cost = Template.EstimateBytes(definition.Length);
        if (_templates.TryGetValue(key, out var existing))
        {
            needsCompile = !existing.HasDefinition(definition, isOptions);
            if (!needsCompile)
            {
                existing.RefreshedMilliseconds = nowMilliseconds;
                return true;
            }

            // A redefinition replaces the old one: only what it adds must fit.
            cost -= existing.MemoryBytes;
            if (!FitsBytes(cost))
            {
                Statistics.TemplatesRejected++;
                _table.CountRejectedTemplate();
                return false;
            }

            return true;
        }

        needsCompile = true;
        if (!FitsCount() || !FitsBytes(cost))
        {
            ExpireTemplates(nowMilliseconds);
            if (!FitsCount() || !FitsBytes(cost))
            {
                Statistics.TemplatesRejected++;
                _table.CountRejectedTemplate();
                return false;
            }
        }

        return true;
    }

    private bool FitsCount() => _templates.Count < _options.MaxTemplatesPerExporter && _table.TemplateCount < _options.MaxTemplates;

    private bool FitsBytes(int cost) =>
        cost <= 0 || (_templateBytes + cost <= _options.MaxTemplateBytesPerExporter && _table.TemplateBytes + cost <= _options.MaxTemplateBytes);

    internal void Store(ulong key, Template template)
    {
        if (_templates.TryGetValue(key, out var replaced))
        {
            Statistics.TemplatesReplaced++;
            AdjustBytes(-replaced.MemoryBytes);
        }
        else
        {
            _table.AdjustTemplateCount(1);
            Statistics.TemplatesAdded++;
        }

        AdjustBytes(template.MemoryBytes);
        _templates[key] = template;
    }

    private void AdjustBytes(int delta)
    {
        Interlocked.Add(ref _templateBytes, delta);
        _table.AdjustTemplateBytes(delta);
    }

    internal void Withdraw(ulong key)
    {
        if (Remove(key))
        {
            Statistics.TemplatesWithdrawn++;
        }
    }

    /// <summary>Withdraws every data (or every options) template of a domain (IPFIX template ID 2 or 3 with no fields).</summary>
    internal void WithdrawAll(byte version, uint domain, bool options)
    {
        List<ulong>? doomed = null;
        foreach (var (key, template) in _templates)
        {
            if ((byte)(key >> 48) == version && (uint)(key >> 16) == domain && template.IsOptions == options)
            {
                (doomed ??= []).Add(key);
            }
        }

        if (doomed is null)
        {
            return;
        }

        foreach (var key in doomed)
        {
            Withdraw(key);
        }
    }

    internal void ExpireTemplates(long nowMilliseconds)
    {
        if (_templateLifetimeMilliseconds <= 0)
        {
            return;
        }

        List<ulong>? expired = null;
        foreach (var (key, template) in _templates)
        {
            if (IsExpired(template, nowMilliseconds))
            {
                (expired ??= []).Add(key);
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (var key in expired)
        {
            Remove(key);
            Statistics.TemplatesExpired++;
        }
    }

    internal void SetSystemInitTime(uint domain, long unixMilliseconds)
    {
        if (_systemInitTimes.Count < MaxDomains || _systemInitTimes.ContainsKey(domain))
        {
            _systemInitTimes[domain] = unixMilliseconds;
        }
    }

    internal bool TryGetSystemInitTime(uint domain, out long unixMilliseconds) =>
        _systemInitTimes.TryGetValue(domain, out unixMilliseconds);

    /// <summary>Forgets all state; used when the exporter itself is evicted.</summary>
    /// <summary>Forgotten by the table: a datagram that got hold of it just before is not decoded into it.</summary>
    internal bool IsReleased { get; private set; }

    internal void Release()
    {
        IsReleased = true;
        _table.AdjustTemplateCount(-_templates.Count);
        AdjustBytes(-_templateBytes);
        _templates.Clear();
        Pending.Clear();
    }

    /// <summary>Drops early data sets past their time and, when due, templates past theirs (the tick's sweep).</summary>
    internal void Expire(long nowMilliseconds, bool templates)
    {
        Pending.Expire(nowMilliseconds, Statistics);
        if (templates)
        {
            ExpireTemplates(nowMilliseconds);
        }
    }

    private bool IsExpired(Template template, long nowMilliseconds) =>
        _templateLifetimeMilliseconds > 0 && nowMilliseconds - template.RefreshedMilliseconds > _templateLifetimeMilliseconds;

    private bool Remove(ulong key)
    {
        if (!_templates.Remove(key, out var template))
        {
            return false;
        }

        _table.AdjustTemplateCount(-1);
        AdjustBytes(-template.MemoryBytes);
        return true;
    }
}
