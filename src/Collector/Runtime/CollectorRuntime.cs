using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Http;
using FlowCollector.Collector.Sources;
using FlowCollector.Decoders.Flows;
using FlowCollector.Decoders.Packets;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Metrics;
using FlowCollector.Exporters.Mitigation;
using FlowCollector.Exporters.Storage;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Runtime;

/// <summary>Why the collector could not start.</summary>
internal enum StartFailure
{
    None,

    /// <summary>A port, socket, capture or file could not be opened (sysexits EX_UNAVAILABLE).</summary>
    Unavailable,

    /// <summary>The configuration asks for something that cannot be (sysexits EX_CONFIG).</summary>
    Configuration,

    /// <summary>The database is damaged (sysexits EX_DATAERR): restarting will not mend it.</summary>
    DamagedData,
}

/// <summary>
/// The running appliance: UDP listeners, mirror listeners and captures feed the aggregator; once a second the tick
/// reads /proc/net/dev, closes the second, runs the detector over it, and updates the metrics and the interface
/// rates the API serves. Incidents and baselines go to the SQLite store.
/// </summary>
internal sealed partial class CollectorRuntime : IAsyncDisposable
{
    private readonly CollectorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly List<IFlowSource> _sources = [];

    /// <summary>Where the detector publishes incident changes; every consumer of incidents subscribes to it.</summary>
    public IncidentFeed Incidents { get; } = new();

    private readonly List<IPolledSource> _polled = [];
    private readonly List<KeyValuePair<string, long>> _sourceEvents = [];
    private readonly DateTimeOffset _started;
    private HttpEndpointServer? _http;
    private IncidentStore? _store;
    private Detector? _detector;
    private MitigationWorker? _mitigation;
    private ExaBgpSpeaker? _exabgp;
    private readonly CapacityWarnings _warnings;
    private long _lastBaselineSave;
    private long _flowDatagrams;
    private bool _flowsLastSecond;
    private volatile InterfaceRate[] _interfaces = [];
    private long _lastSecond;
    private int _disposed;

    public CollectorRuntime(CollectorOptions options, string dataDirectory, TimeProvider time, ILoggerFactory loggers)
    {
        _options = options;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("FlowCollector");
        _started = time.GetUtcNow();
        DataDirectoryPath = dataDirectory;
        Node = options.Node.Name.Length > 0 ? options.Node.Name : Environment.MachineName;
        Decoder = new FlowDecoder(options.Decoder);
        var names = new InterfaceNames();
        Aggregator = new RateAggregator(
            options.Aggregation,
            new MonitoredPrefixes(options.Monitor.Prefixes.Select(IpPrefix.Parse)),
            names,
            _started.ToUnixTimeSeconds(),
            InterfaceCapacities.Configured(options.Detection, names, options.Aggregation.MaxInterfaces, options.Aggregation));
        _warnings = new CapacityWarnings(options, loggers.CreateLogger("FlowCollector.Limits"));
        Metrics = new CollectorMetrics(Node, options.Metrics.MaxInterfaceSeries, options.Metrics.MaxExporterSeries, options.Aggregation.IdleSeconds);
        Metrics.Registry.AddBeforeCollectCallback(RecordCounters);
        _lastSecond = Aggregator.CurrentSecond - 1;
    }

    public string Node { get; }

    public string DataDirectoryPath { get; }

    public FlowDecoder Decoder { get; }

    public RateAggregator Aggregator { get; }

    public CollectorMetrics Metrics { get; }

    /// <summary>Interface rates of the last complete second.</summary>
    public IReadOnlyList<InterfaceRate> Interfaces => _interfaces;

    public IPEndPoint? HttpEndPoint => _http?.LocalEndPoint;

    /// <summary>The detector, once <see cref="TryStart"/> has opened the store it resumes from.</summary>
    public Detector? Detector => _detector;

    public IncidentStore? Store => _store;

    public string DatabasePath => _options.Storage.DatabasePath(DataDirectoryPath);

    /// <summary>The last second closed.</summary>
    public long LastSecond => Interlocked.Read(ref _lastSecond);

    /// <summary>Why <see cref="TryStart"/> failed, which decides the exit code.</summary>
    public StartFailure Failure { get; private set; }

    /// <summary>Opens every source and the HTTP endpoints; the error names what failed and why.</summary>
    public bool TryStart(out string error)
    {
        Failure = StartFailure.Unavailable;
        var retention = new StoreRetention(_options.Storage.IncidentRetentionDays, _options.Storage.SecondsRetentionDays, _options.Storage.BaselineMaxAgeHours);
        if (!IncidentStore.TryOpen(DatabasePath, out _store, out error, retention, _loggers.CreateLogger("FlowCollector.Storage"), _time))
        {
            Failure = error.Contains(" is damaged ", StringComparison.Ordinal) ? StartFailure.DamagedData : StartFailure.Unavailable;
            error = $"Storage:Path: {error}";
            return false;
        }

        if (!_store!.TryLoadDetectorState(_time.GetUtcNow(), TimeSpan.FromHours(_options.Storage.BaselineMaxAgeHours), out var state, out error))
        {
            Failure = StartFailure.DamagedData;
            error = $"Storage:Path: {error}";
            return false;
        }

        if (_store.SkippedRows > 0)
        {
            LogSkippedAtStart(_logger, _store.SkippedRows, DatabasePath);
        }

        if (!TryStartMitigation(out error))
        {
            return false;
        }

        // The store first (an action's incident is recorded before the action), then the journal, then mitigation.
        Incidents.Subscribe(_store).Subscribe(new IncidentLog(_loggers.CreateLogger("FlowCollector.Incidents")));
        if (_mitigation is not null && _options.Mitigation.Enabled)
        {
            Incidents.Subscribe(_mitigation);
        }

        _detector = new Detector(_options.Detection, Node, Aggregator.Names, Aggregator.Prefixes, _time, Incidents, state, Aggregator.Capacities);
        _lastBaselineSave = _time.GetUtcNow().ToUnixTimeSeconds();
        LogResumed(_logger, state.Baselines.Count, state.OpenIncidents.Count, DatabasePath);

        var listen = IPAddress.Parse(_options.Listeners.Address);
        var sockets = _options.Listeners.SocketsPerPort == 0 ? Environment.ProcessorCount : _options.Listeners.SocketsPerPort;
        var allowlist = new ExporterAllowlist(_options.Listeners.AllowedExporters.Select(IpPrefix.Parse));
        var buffer = _options.Listeners.ReceiveBufferBytes;
        var listenerLogger = _loggers.CreateLogger("FlowCollector.Listeners");
        var mirrorLogger = _loggers.CreateLogger("FlowCollector.Mirror");
        var exports = new FlowExports(Decoder);
        try
        {
            foreach (var (name, port) in new[] { ("netflow", _options.Listeners.NetFlowPort), ("ipfix", _options.Listeners.IpfixPort), ("sflow", _options.Listeners.SFlowPort) })
            {
                if (port != 0)
                {
                    StartSource(new DatagramSource<FlowExports>(
                        name, source => DatagramSockets.ReusePortGroup(source, listen, port, sockets, buffer, listenerLogger, bound => source.UdpPort = bound), exports, "unrecognized", Aggregator, allowlist, _time, listenerLogger));
                }
            }

            if (_options.Listeners.MirrorPort is var mirrorPort and not 0)
            {
                var mirrored = new MirroredFrames(mirrorPort == PacketHeaderParser.VxlanPort ? Encapsulation.Vxlan : Encapsulation.Tzsp);
                StartSource(new DatagramSource<MirroredFrames>(
                    "mirror-udp", source => DatagramSockets.Single(source, listen, mirrorPort, buffer, mirrorLogger, bound => source.UdpPort = bound), mirrored, "not_ip", Aggregator, allowlist, _time, mirrorLogger));
            }

            if (_options.Listeners.Gre)
            {
                StartSource(new DatagramSource<MirroredFrames>(
                    "mirror-gre", source => DatagramSockets.Gre(source, buffer, mirrorLogger), new MirroredFrames(Encapsulation.None), "not_ip", Aggregator, allowlist, _time, mirrorLogger));
            }
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            error = $"Listeners: cannot open a socket ({exception.Message}); another program may hold the port, or GRE needs CAP_NET_RAW";
            return false;
        }

        foreach (var name in _options.Capture.Interfaces)
        {
            if (!LiveCapture.TryOpen(name, _options.Capture.Filter, _options.Capture.SnapLength, _options.Capture.Promiscuous, Aggregator, _loggers.CreateLogger("FlowCollector.Capture"), out var capture, out error))
            {
                return false;
            }

            StartSource(capture!);
        }

        if (_options.ProcNetDev.Mode == "on" || (_options.ProcNetDev.Mode == "auto" && File.Exists(_options.ProcNetDev.Path)))
        {
            var procNetDev = new ProcNetDevSource(_options.ProcNetDev.Path, _options.ProcNetDev.Include, _options.ProcNetDev.Exclude, Aggregator);
            StartSource(procNetDev);
            _polled.Add(procNetDev);
            LogProcNetDev(_logger, _options.ProcNetDev.Path);
        }

        if (_options.Http.Listen.Length > 0)
        {
            if (!OptionsValidator.TryParseEndpoint(_options.Http.Listen, out var endpoint))
            {
                error = $"Http:Listen: '{_options.Http.Listen}' is not ADDRESS:PORT";
                return false;
            }

            _http = new HttpEndpointServer(Endpoints(), _loggers.CreateLogger("FlowCollector.Http"), _options.Http.ApiToken);
            try
            {
                _http.Start(endpoint);
            }
            catch (System.Net.Sockets.SocketException exception)
            {
                error = $"Http:Listen: cannot listen on {endpoint} ({exception.Message})";
                return false;
            }
        }

        if (allowlist.AllowsAll && _sources.Any(source => source.Kind == SourceKind.Listener))
        {
            LogAnyExporter(_logger, _options.Listeners.Address);
        }

        LogStarted(_logger, Node, DataDirectoryPath);
        Failure = StartFailure.None;
        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Starts the mitigation engine when mitigation is on, in dry run, or when an earlier run left actions recorded as
    /// in force (whatever the configuration says now, what the collector owns is reconciled: kept only where the
    /// current configuration still wants it). Tools are touched only when needed: nft or iptables when acting or when
    /// local rules are owed a withdrawal, ExaBGP's socket when announcing or when announcements are.
    /// </summary>
    private bool TryStartMitigation(out string error)
    {
        error = string.Empty;
        var options = _options.Mitigation;
        var acting = options.Enabled && !options.DryRun;
        var owed = _store!.Actions(activeOnly: true, limit: 100_000).Where(a => !a.DryRun).ToList();
        if (!options.Enabled && owed.Count == 0)
        {
            return true;
        }

        // The planner adds Mitigation:Allowlist itself; the rest of what is never acted on comes from here.
        var allowlist = EffectiveLists.MitigationAllowlist(_options).Where(entry => entry.Source != "Mitigation:Allowlist").Select(entry => entry.Prefix).ToList();

        IMitigationBackend? rules = null;
        var owedLocal = owed.FirstOrDefault(a => a.Kind.IsLocal())?.Kind;
        if (acting || owedLocal is not null)
        {
            // Rules owed a withdrawal are removed with the tool that installed them.
            var backend = acting ? options.Nftables.Backend : owedLocal == ActionKind.Iptables ? "iptables" : "nft";
            rules = backend switch
            {
                "nft" => new NftablesBackend(options.Nftables.Table),
                "iptables" => new IptablesBackend(),
                _ when CommandRunner.Find("nft") is not null => new NftablesBackend(options.Nftables.Table),
                _ when CommandRunner.Find("iptables") is not null => new IptablesBackend(),
                _ => null,
            };
        }

        if (acting && rules is NftablesBackend nft && nft.Owner(out var foreign) == TableOwner.Foreign)
        {
            Failure = StartFailure.Configuration;
            error = $"Mitigation:Nftables:Table: {foreign}";
            return false;
        }

        var owedBgp = owed.Any(a => !a.Kind.IsLocal());
        if (((acting && options.UsesBgp) || owedBgp) && options.ExaBgp.Socket.Length > 0)
        {
            if (!SocketPath.TryClaim(options.ExaBgp.Socket, out var claim))
            {
                error = $"Mitigation:ExaBgp:Socket: {claim}";
                return false;
            }

            try
            {
                _exabgp = new ExaBgpSpeaker(options.ExaBgp.Socket, options.ExaBgp.AckTimeoutMilliseconds);
            }
            catch (Exception exception) when (exception is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
                error = $"Mitigation:ExaBgp:Socket: cannot listen on {options.ExaBgp.Socket} ({exception.Message})";
                return false;
            }
        }

        var planner = new MitigationPlanner(options, Aggregator.Prefixes, allowlist);
        var backends = new MitigationBackends(
            rules,
            _exabgp is null ? null : new ExaBgpBackend(ActionKind.FlowSpec, _exabgp),
            _exabgp is null ? null : new ExaBgpBackend(ActionKind.Rtbh, _exabgp));
        var logger = _loggers.CreateLogger("FlowCollector.Mitigation");
        _mitigation = new MitigationWorker(new MitigationEngine(options, planner, _store!, backends, _time, logger), _time, logger, _exabgp);
        _mitigation.Start();
        var mode = _mitigation.Engine.Mode switch { MitigationMode.On => "on", MitigationMode.DryRun => "dry run", _ => $"off, withdrawing {owed.Count} action(s) an earlier run left" };
        LogMitigation(_logger, mode, rules is null ? "none" : ActionNames.Name(rules.Kind), _exabgp is null ? "off" : options.ExaBgp.Socket, planner.Allowlist.Count);
        return true;
    }

    /// <summary>
    /// Closes each second once its boundary has passed, until stopped, on a thread of its own. A timer may fire a
    /// little early, so the boundary is checked again; after a stall the missed seconds are closed one by one. Three
    /// times during a second that follows one with flow traffic, the detector probes the second so far (an attack over
    /// its threshold already is opened then, not at the tick); a router-mode node with no flows never wakes for it.
    /// </summary>
    public Task RunAsync(CancellationToken stopping)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                RunTicks(stopping);
                done.SetResult();
            }
            catch (Exception exception)
            {
                LogTickFailed(_logger, exception);
                done.SetException(exception);
            }
        })
        { IsBackground = true, Name = "tick" };
        thread.Start();
        return done.Task;
    }

    private void RunTicks(CancellationToken stopping)
    {
        var toClose = Aggregator.CurrentSecond;
        var probes = 0;
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            var boundary = DateTimeOffset.FromUnixTimeSeconds(toClose + 1);
            if (now >= boundary)
            {
                Tick(toClose);
                toClose++;
                probes = 0;
                continue;
            }

            var probeDue = _detector is not null && _flowsLastSecond && probes < ProbesPerSecond;
            var probeAt = DateTimeOffset.FromUnixTimeSeconds(toClose).AddMilliseconds(1000.0 * (probes + 1) / (ProbesPerSecond + 1));
            if (probeDue && now >= probeAt)
            {
                _detector!.Probe(Aggregator.Peek());
                probes++;
                continue;
            }

            // Timers have millisecond resolution and may fire early: a wait under a millisecond would become no wait
            // at all and spin until the boundary, so round it up to whole milliseconds.
            var wait = TimeSpan.FromMilliseconds(Math.Ceiling(((probeDue ? probeAt : boundary) - now).TotalMilliseconds));
            if (!Sleep(wait, stopping))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Waits on the tick's own thread; false once stopped. On the system clock the thread simply blocks, so an idle
    /// collector wakes once a second and no timer or thread-pool thread with it; another clock's timers are awaited.
    /// </summary>
    private bool Sleep(TimeSpan wait, CancellationToken stopping)
    {
        if (ReferenceEquals(_time, TimeProvider.System))
        {
            return !stopping.WaitHandle.WaitOne(wait);
        }

        try
        {
            Task.Delay(wait, _time, stopping).GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Probes of the second being counted, evenly spaced (at 250, 500 and 750 ms).</summary>
    private const int ProbesPerSecond = 3;

    /// <summary>Closes one second: counters are read, shards merged, metrics and interface rates updated.</summary>
    public void Tick(long second)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var polled in _polled)
        {
            polled.Poll(_time.GetUtcNow().ToUnixTimeMilliseconds());
        }
        var result = Aggregator.Tick(second);
        if (_detector is not null)
        {
            _detector.Process(result);
            if (second - _lastBaselineSave >= _options.Storage.BaselineSaveSeconds)
            {
                _store!.SaveBaselines(_detector.SnapshotBaselines());
                _lastBaselineSave = second;
            }
        }

        Metrics.RecordSecond(result, Aggregator.Names, _detector);
        if (_detector is not null)
        {
            Metrics.RecordIncidents(_detector.OpenIncidents);
            Metrics.RecordIncidentOverflow(_detector);
        }

        var interfaces = new List<InterfaceRate>();
        foreach (ref readonly var sample in result.Samples)
        {
            if (sample.Key.Kind == KeyKind.Interface)
            {
                interfaces.Add(InterfaceRate.From(sample, Node, Aggregator.Names));
            }
        }

        _interfaces = [.. interfaces];
        Interlocked.Exchange(ref _lastSecond, second);
        long flowDatagrams = 0;
        foreach (var source in _sources)
        {
            if (source.Kind != SourceKind.InterfaceCounters)
            {
                flowDatagrams += source.Received;
            }
        }

        _flowsLastSecond = flowDatagrams != _flowDatagrams;
        _flowDatagrams = flowDatagrams;
        Decoder.Exporters.Expire(_time.GetUtcNow().ToUnixTimeMilliseconds());
        var statistics = Aggregator.Statistics();
        Metrics.RecordAggregation(statistics, Stopwatch.GetElapsedTime(started));
        _warnings.Report(second, statistics, Decoder.Exporters, _detector);
    }

    public async ValueTask DisposeAsync()
    {
        // The host stops the service, then disposes its container: the second call finds nothing to do.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_http is not null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var source in _sources)
        {
            source.Dispose();
        }

        // Actions are withdrawn at shutdown; the incidents stay open in the store, and the next start resumes them
        // (and applies again) or closes them if their keys stay quiet.
        _mitigation?.Dispose();
        _exabgp?.Dispose();
        if (_store is not null)
        {
            if (_detector is not null)
            {
                _store.SaveBaselines(_detector.SnapshotBaselines());
            }

            _store.Flush(TimeSpan.FromSeconds(10));
            _store.Dispose();
        }
    }

    /// <summary>Counters read from their owners when Prometheus scrapes, not every second.</summary>
    private void RecordCounters()
    {
        Metrics.RecordExporters(Decoder.Exporters);
        var kernelDrops = KernelDrops.Read(_sources.ConvertAll(source => source.UdpPort));
        for (var i = 0; i < _sources.Count; i++)
        {
            var source = _sources[i];
            if (source.Kind != SourceKind.InterfaceCounters)
            {
                Metrics.RecordListener(new ListenerCounters(source.Name, source.Received, source.Rejected, source.Dropped + kernelDrops[i]));
            }

            _sourceEvents.Clear();
            source.ReadEvents(_sourceEvents);
            foreach (var (name, count) in _sourceEvents)
            {
                Metrics.RecordSourceEvent(source.Name, name, count);
            }
        }

        if (_store is not null)
        {
            Metrics.RecordStore(_store.Written, _store.Dropped, _store.Failed);
        }

        if (_mitigation is not null)
        {
            Metrics.RecordMitigation(_mitigation.Engine.Counters, _exabgp?.IsConnected);
        }
    }

    /// <summary>The most incidents one page of <c>/api/incidents</c> holds; older ones are paged with <c>before=ID</c>.</summary>
    public const int MaxIncidentPage = 1000;

    private IEnumerable<Endpoint> Endpoints()
    {
        yield return new Endpoint("/metrics", "text/plain; version=0.0.4; charset=utf-8", (response, _, cancellation) => Metrics.ExportAsync(response.Body, cancellation));
        yield return new Endpoint("/healthz", "application/json", (response, _, cancellation) =>
        {
            var reasons = Degradations();
            response.Status = reasons.Count == 0 ? 200 : 503;
            return WriteJsonAsync(response, writer => WriteHealth(writer, reasons), cancellation);
        });
        yield return new Endpoint("/api/interfaces", "application/json", (response, _, cancellation) => WriteJsonAsync(response, WriteInterfaces, cancellation));
        yield return new Endpoint("/api/mitigations", "application/json", WriteMitigationsAsync);
        yield return new Endpoint("/api/incidents", "application/json", WriteIncidentsAsync);
    }

    private static async Task WriteJsonAsync(HttpResponse response, Action<Utf8JsonWriter> write, CancellationToken cancellation)
    {
        await using var writer = new Utf8JsonWriter(response.Body);
        write(writer);
        await writer.FlushAsync(cancellation).ConfigureAwait(false);
    }

    private void WriteInterfaces(Utf8JsonWriter writer)
    {
        writer.WriteStartArray();
        foreach (var rate in _interfaces)
        {
            rate.Write(writer);
        }

        writer.WriteEndArray();
    }

    /// <summary>
    /// Newest first from the store, streamed as rows are read: <c>?open=true</c> for open ones only, <c>limit=N</c>
    /// (default and at most <see cref="MaxIncidentPage"/>), <c>before=ID</c> for the page of incidents older than ID.
    /// </summary>
    private async Task WriteIncidentsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var openOnly = false;
        var limit = MaxIncidentPage;
        var before = long.MaxValue;
        foreach (var (name, value) in QueryPairs(request.Query))
        {
            if (name == "open")
            {
                openOnly = value is "true" or "1";
            }
            else if (name == "limit" && !TryPositive(value, out limit))
            {
                await BadQueryAsync(response, $"limit: '{value}' is not a positive whole number", cancellation).ConfigureAwait(false);
                return;
            }
            else if (name == "before" && !TryPositive(value, out before))
            {
                await BadQueryAsync(response, $"before: '{value}' is not an incident id", cancellation).ConfigureAwait(false);
                return;
            }
        }

        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartArray();
        if (_store is not null)
        {
            foreach (var incident in _store.IncidentPage(openOnly, Math.Min(limit, MaxIncidentPage), before))
            {
                IncidentJson.Write(writer, incident);
                if (writer.BytesPending >= HttpResponse.BufferSize)
                {
                    await writer.FlushAsync(cancellation).ConfigureAwait(false);
                }
            }
        }

        writer.WriteEndArray();
        await writer.FlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>Newest first from the store; <c>?active=true</c> for actions not withdrawn.</summary>
    private async Task WriteMitigationsAsync(HttpResponse response, HttpRequestHead request, CancellationToken cancellation)
    {
        var activeOnly = QueryPairs(request.Query).Any(p => p.Name == "active" && p.Value is "true" or "1");
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartArray();
        foreach (var action in _store?.Actions(activeOnly) ?? [])
        {
            MitigationJson.Write(writer, action);
            if (writer.BytesPending >= HttpResponse.BufferSize)
            {
                await writer.FlushAsync(cancellation).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        await writer.FlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>A query string's name=value pairs, unescaped; a bare name reads as true.</summary>
    private static IEnumerable<(string Name, string Value)> QueryPairs(string query) =>
        query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair => pair.IndexOf('=', StringComparison.Ordinal) is var equals and > 0
            ? (Uri.UnescapeDataString(pair[..equals]), Uri.UnescapeDataString(pair[(equals + 1)..]))
            : (Uri.UnescapeDataString(pair), "true"));

    private static bool TryPositive(string value, out int parsed) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out parsed) && parsed > 0;

    private static bool TryPositive(string value, out long parsed) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out parsed) && parsed > 0;

    private static async Task BadQueryAsync(HttpResponse response, string message, CancellationToken cancellation)
    {
        response.Status = 400;
        response.ContentType = "text/plain; charset=utf-8";
        await response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes(message + "\n"), cancellation).ConfigureAwait(false);
    }

    /// <summary>Seconds behind the clock beyond which detection counts as lagging: the tick closes each second within one.</summary>
    private const double LaggingSeconds = 3;

    /// <summary>Why the collector is not doing its job fully now; empty when it is.</summary>
    public IReadOnlyList<string> Degradations()
    {
        var reasons = new List<string>();
        var lag = TickLagSeconds;
        if (lag > LaggingSeconds)
        {
            reasons.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"detection is {lag:F0} s behind: the one-second tick lags"));
        }

        if (_store is { Failing: true } store)
        {
            reasons.Add($"the database fails ({store.HeldRows} rows held for a retry): {store.LastError}");
        }

        if (_mitigation?.Engine is { NeedsExaBgp: true })
        {
            if (_exabgp is null)
            {
                reasons.Add("announcements are owed a withdrawal, and Mitigation:ExaBgp:Socket is not set to reach ExaBGP");
            }
            else if (!_exabgp.IsConnected)
            {
                reasons.Add("mitigation needs ExaBGP, and its relay is not connected to " + _options.Mitigation.ExaBgp.Socket);
            }
        }

        return reasons;
    }

    /// <summary>How far the last closed second is behind the clock, beyond the second it takes to close it.</summary>
    public double TickLagSeconds => Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0) - (LastSecond + 1));

    /// <summary>/healthz: status ok (answered 200), or degraded (503) with the reasons.</summary>
    private void WriteHealth(Utf8JsonWriter writer, IReadOnlyList<string> reasons)
    {
        writer.WriteStartObject();
        writer.WriteString("status", reasons.Count == 0 ? "ok" : "degraded");
        writer.WriteStartArray("reasons");
        foreach (var reason in reasons)
        {
            writer.WriteStringValue(reason);
        }

        writer.WriteEndArray();
        writer.WriteString("node", Node);
        writer.WriteString("dataDirectory", DataDirectoryPath);
        writer.WriteNumber("uptimeSeconds", Math.Round((_time.GetUtcNow() - _started).TotalSeconds, 1));
        writer.WriteNumber("lastSecond", Interlocked.Read(ref _lastSecond));
        writer.WriteNumber("tickLagSeconds", Math.Round(TickLagSeconds, 1));
        writer.WriteStartObject("listeners");
        foreach (var source in _sources.Where(source => source.Kind == SourceKind.Listener))
        {
            writer.WriteNumber(source.Name, source.UdpPort);
        }

        writer.WriteEndObject();
        writer.WriteBoolean("procNetDev", _polled.Count > 0);
        writer.WriteStartArray("captures");
        foreach (var capture in _sources.OfType<LiveCapture>())
        {
            writer.WriteStringValue(capture.Interface);
        }

        writer.WriteEndArray();
        writer.WriteNumber("exporters", Decoder.Exporters.Count);
        writer.WriteString("database", DatabasePath);
        writer.WriteStartObject("store");
        writer.WriteString("status", _store is null ? "closed" : _store.Failing ? "failing" : "ok");
        if (_store?.LastError is { } storeError)
        {
            writer.WriteString("error", storeError);
        }

        writer.WriteNumber("heldRows", _store?.HeldRows ?? 0);
        writer.WriteNumber("failedBatches", _store?.Failed ?? 0);
        writer.WriteNumber("skippedRows", _store?.SkippedRows ?? 0);
        writer.WriteEndObject();
        writer.WriteString("mitigation", _mitigation?.Engine.Mode switch { MitigationMode.On => "on", MitigationMode.DryRun => "dry-run", _ => "off" });
        writer.WriteString("exabgp", _exabgp is null ? "off" : _exabgp.IsConnected ? "connected" : "disconnected");
        writer.WriteNumber("openIncidents", _detector?.OpenIncidents.Count ?? 0);
        writer.WriteNumber("detectionKeys", _detector?.KeyCount ?? 0);
        writer.WriteEndObject();
    }

    /// <summary>Starts a source, kept first so that a failed start still closes it at dispose.</summary>
    private void StartSource(IFlowSource source)
    {
        _sources.Add(source);
        source.Start();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "flowcollector running as node {Node}, data in {DataDirectory}")]
    private static partial void LogStarted(ILogger logger, string node, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "exports are accepted from any address (listening on {Address}): UDP senders can be forged; list the routers in Listeners:AllowedExporters")]
    private static partial void LogAnyExporter(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Critical, Message = "the one-second tick failed; the collector stops with exit code 70 so that its service manager restarts it")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Rows} rows of {Database} could not be read back (damaged JSON) and were skipped")]
    private static partial void LogSkippedAtStart(ILogger logger, long rows, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "detector resumed {Baselines} saved baselines and {OpenIncidents} open incidents from {Database}")]
    private static partial void LogResumed(ILogger logger, int baselines, int openIncidents, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "mitigation {Mode}: local rules through {Backend}, ExaBGP {ExaBgp}, {Allowlisted} allowlisted prefixes")]
    private static partial void LogMitigation(ILogger logger, string mode, string backend, string exaBgp, int allowlisted);

    [LoggerMessage(Level = LogLevel.Information, Message = "reading interface counters from {Path} every second")]
    private static partial void LogProcNetDev(ILogger logger, string path);
}
