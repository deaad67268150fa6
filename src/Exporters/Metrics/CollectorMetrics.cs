using System.Globalization;
using FlowCollector.Decoders;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using Prometheus;
using FlowCollector.Exporters.Evidence;

namespace FlowCollector.Exporters.Metrics;

/// <summary>What one receive listener has seen, for its metrics.</summary>
public readonly record struct ListenerCounters(string Listener, long Datagrams, long Rejected, long KernelDrops);

/// <summary>
/// The collector's Prometheus metrics in a registry of its own (prometheus-net): per-interface counters and the last
/// second's rates, per-exporter decoding counters, per-listener kernel drops, the aggregation's own counters and
/// process metrics. Labels are bounded: no label names a destination address; an interface's series go when the
/// interface has been idle as long as the aggregation keeps it, an exporter's when the decoder forgets it; and both
/// are capped (exporters that delivered records first), with what is left unlisted counted.
/// </summary>
public sealed class CollectorMetrics
{
    private static readonly string[] InterfaceLabels = ["node", "interface", "direction", "source"];
    private readonly string _node;
    private readonly Counter _interfacePackets;
    private readonly Counter _interfaceBytes;
    private readonly Gauge _interfacePacketsPerSecond;
    private readonly Gauge _interfaceBytesPerSecond;
    private readonly Counter _nodePackets;
    private readonly Counter _nodeBytes;
    private readonly Gauge _nodePacketsPerSecond;
    private readonly Gauge _nodeBytesPerSecond;
    private readonly Counter _sourceEvents;
    private readonly Counter _exporterDatagrams;
    private readonly Counter _exporterRecords;
    private readonly Counter _exporterCounterSamples;
    private readonly Counter _exporterErrors;
    private readonly Counter _exporterSequenceLost;
    private readonly Counter _exporterSamplesDropped;
    private readonly Counter _exporterDataSetsDropped;
    private readonly Gauge _exporterTemplates;
    private readonly Counter _exportersRejected;
    private readonly Counter _templatesRejected;
    private readonly Counter _listenerDatagrams;
    private readonly Counter _listenerRejected;
    private readonly Counter _listenerKernelDrops;
    private readonly Counter _destinationOverflow;
    private readonly Counter _interfaceOverflow;
    private readonly Counter _counterResets;
    private readonly Counter _implausible;
    private readonly Gauge _keys;
    private readonly Gauge _tickSeconds;
    private readonly Gauge _interfaceThresholdPackets;
    private readonly Gauge _interfaceThresholdBytes;
    private readonly Gauge _openIncidents;
    private readonly Gauge.Child?[] _openIncidentSeries = new Gauge.Child?[AttackNames.All.Count];
    private readonly int[] _openByType = new int[AttackNames.All.Count];
    private readonly Counter _incidentOverflow;
    private readonly Gauge _detectionKeys;
    private readonly Gauge _learningKeys;
    private readonly Counter _implausibleSeconds;
    private readonly Counter _storeRows;
    private readonly Counter _storeDropped;
    private readonly Counter _storeFailed;
    private readonly Counter _mitigationEvents;
    private readonly Counter _alerts;
    private readonly Gauge _alertQueue;
    private readonly IMetricFactory _factory;
    private EvidenceSeries? _evidence;
    private readonly Counter _alertChangesDropped;
    private readonly Gauge _exabgpConnected;
    private readonly Gauge _interfaceCapacity;
    private readonly Gauge _openBySeverity;
    private Gauge.Child[]? _openBySeverityChildren;
    private readonly int[] _openBySeverityCount = new int[Enum.GetValues<Severity>().Length];
    private readonly Gauge _longestOpen;
    private readonly Gauge _activeActions;
    private readonly Gauge _mitigationEnabled;
    private readonly Gauge _buildInfo;
    private readonly Dictionary<TrafficKey, InterfaceSeries> _interfaces = [];
    private readonly List<TrafficKey> _idle = [];
    private readonly Dictionary<NetworkAddress, ExporterSeries> _exporters = [];
    private readonly int _maxInterfaceSeries;
    private readonly int _maxExporterSeries;
    private readonly int _idleSeconds;
    private readonly Gauge _unlistedInterfaces;
    private readonly Gauge _unlistedExporters;
    private readonly Counter _exportersEvicted;
    private readonly Counter _pendingRejected;
    private readonly Gauge _templateBytes;
    private readonly Gauge _pendingBytes;
    private readonly HashSet<TrafficKey> _seenThisSecond = [];
    private readonly Dictionary<TrafficSource, NodeSeries> _nodes = [];

    /// <param name="node">This collector's name, the node label of local evidence.</param>
    /// <param name="maxInterfaceSeries">Interfaces with series of their own at once.</param>
    /// <param name="maxExporterSeries">Exporters with series of their own at once.</param>
    /// <param name="idleSeconds">An interface without traffic for this long loses its series (as the aggregation forgets it).</param>
    public CollectorMetrics(string node, int maxInterfaceSeries = 4096, int maxExporterSeries = 512, int idleSeconds = 300)
    {
        _node = node;
        _maxInterfaceSeries = maxInterfaceSeries;
        _maxExporterSeries = maxExporterSeries;
        _idleSeconds = idleSeconds;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _interfacePackets = factory.CreateCounter("flowcollector_interface_packets_total", "Packets through an interface, multiplied by the sampling rate.", InterfaceLabels);
        _interfaceBytes = factory.CreateCounter("flowcollector_interface_bytes_total", "IP bytes through an interface, multiplied by the sampling rate.", InterfaceLabels);
        _interfacePacketsPerSecond = factory.CreateGauge("flowcollector_interface_packets_per_second", "Packets per second through an interface in the last complete second.", InterfaceLabels);
        // Bytes, not bits: Prometheus names carry base units (promtool rejects "_bits_"); dashboards multiply by 8.
        _interfaceBytesPerSecond = factory.CreateGauge("flowcollector_interface_bytes_per_second", "IP bytes per second through an interface in the last complete second.", InterfaceLabels);
        _nodePackets = factory.CreateCounter("flowcollector_node_packets_total", "Packets of all traffic one source saw, multiplied by the sampling rate.", "source");
        _nodeBytes = factory.CreateCounter("flowcollector_node_bytes_total", "IP bytes of all traffic one source saw, multiplied by the sampling rate.", "source");
        _nodePacketsPerSecond = factory.CreateGauge("flowcollector_node_packets_per_second", "Packets per second of all traffic one source saw, last complete second.", "source");
        _nodeBytesPerSecond = factory.CreateGauge("flowcollector_node_bytes_per_second", "IP bytes per second of all traffic one source saw, last complete second.", "source");
        _sourceEvents = factory.CreateCounter("flowcollector_source_events_total", "What a source counted besides what it received: not_ip (mirrored frames that are not IP), receive_errors, read_failures and malformed_lines (/proc/net/dev).", "source", "event");
        _exporterDatagrams = factory.CreateCounter("flowcollector_exporter_datagrams_total", "Export datagrams received from an exporter.", "exporter");
        _exporterRecords = factory.CreateCounter("flowcollector_exporter_records_total", "Flow records decoded from an exporter.", "exporter");
        _exporterCounterSamples = factory.CreateCounter("flowcollector_exporter_interface_samples_total", "Interface counter samples decoded from an exporter.", "exporter");
        _exporterErrors = factory.CreateCounter("flowcollector_exporter_decode_errors_total", "Datagrams of an exporter that did not decode cleanly, by reason.", "exporter", "reason");
        _exporterSequenceLost = factory.CreateCounter("flowcollector_exporter_sequence_lost_total", "Sequence numbers an exporter skipped: flows (NetFlow v5), datagrams (v9, sFlow), records (IPFIX).", "exporter");
        _exporterSamplesDropped = factory.CreateCounter("flowcollector_exporter_sflow_samples_dropped_total", "Samples an sFlow agent reported dropping.", "exporter");
        _exporterDataSetsDropped = factory.CreateCounter("flowcollector_exporter_data_sets_dropped_total", "Data sets dropped because their template did not come in time.", "exporter");
        _exporterTemplates = factory.CreateGauge("flowcollector_exporter_templates", "Templates held for an exporter.", "exporter");
        _exportersRejected = factory.CreateCounter("flowcollector_exporters_rejected_total", "Datagrams from new exporters refused because the exporter table was full.");
        _templatesRejected = factory.CreateCounter("flowcollector_templates_rejected_total", "Well-formed templates not stored because a cache limit was reached.");
        _listenerDatagrams = factory.CreateCounter("flowcollector_listener_datagrams_total", "Datagrams a listener received.", "listener");
        _listenerRejected = factory.CreateCounter("flowcollector_listener_rejected_total", "Datagrams a listener dropped because their sender is not an allowed exporter.", "listener");
        _listenerKernelDrops = factory.CreateCounter("flowcollector_listener_kernel_drops_total", "Datagrams the kernel dropped before the listener read them (socket buffer full).", "listener");
        _destinationOverflow = factory.CreateCounter("flowcollector_aggregation_destination_overflow_total", "Records whose destination got no key of its own because the destination cap was reached.");
        _interfaceOverflow = factory.CreateCounter("flowcollector_aggregation_interface_overflow_total", "Records or counters whose interface got no key because the interface cap was reached.");
        _counterResets = factory.CreateCounter("flowcollector_aggregation_interface_resets_total", "Interface counters that went backwards (reset, not wrap).");
        _keys = factory.CreateGauge("flowcollector_aggregation_keys", "Keys the aggregation holds.");
        _implausible = factory.CreateCounter("flowcollector_aggregation_implausible_records_total", "Records not counted because they cannot describe real traffic: packet_size (bytes per packet no IP packet has), rate (beyond any link), link_capacity (over twice the interface's capacity).", "reason");
        _tickSeconds = factory.CreateGauge("flowcollector_tick_duration_seconds", "How long the last one-second tick took.");
        _interfaceThresholdPackets = factory.CreateGauge("flowcollector_interface_threshold_packets_per_second", "The packet rate above which an interface is under attack, as learned (or configured) now.", InterfaceLabels);
        _interfaceThresholdBytes = factory.CreateGauge("flowcollector_interface_threshold_bytes_per_second", "The IP byte rate above which an interface is under attack, as learned (or configured) now.", InterfaceLabels);
        _openIncidents = factory.CreateGauge("flowcollector_incidents_open", "Incidents open now, by attack type (a type appears once it has been seen, then stays).", "type");
        _implausibleSeconds = factory.CreateCounter("flowcollector_detection_implausible_seconds_total", "Seconds of interfaces not judged because more traffic was counted for them than the link can carry (the fastest link, or twice its known capacity).");
        _detectionKeys = factory.CreateGauge("flowcollector_detection_keys", "Keys the detector holds a baseline for.");
        _learningKeys = factory.CreateGauge("flowcollector_detection_learning_keys", "Keys still learning their baseline (Detection:LearningSeconds), judged by the learning floors alone; 0 once detection is calibrated.");
        _incidentOverflow = factory.CreateCounter("flowcollector_incidents_overflow_total", "Breaching seconds of keys that got no incident because Detection:MaxOpenIncidents were open, by kind of key.", "kind");
        _storeRows = factory.CreateCounter("flowcollector_store_rows_written_total", "Rows (incidents, incident seconds, baselines) committed to the database.");
        _storeDropped = factory.CreateCounter("flowcollector_store_writes_dropped_total", "Writes dropped because the database writer fell too far behind.");
        _mitigationEvents = factory.CreateCounter("flowcollector_mitigation_events_total", "Mitigation outcomes: applied.KIND, withdrawn.KIND, failed.KIND, refused, stale_removed, failed_withdrawals.", "event");
        // Published once ExaBGP is configured: a collector without it has no connection to be down.
        _exabgpConnected = factory.CreateGauge("flowcollector_exabgp_connected", "1 while ExaBGP's relay is connected to the collector.", new GaugeConfiguration { SuppressInitialValue = true });
        // Published only for links whose capacity is known: an unknown capacity is no series, not a division by 0.
        _interfaceCapacity = factory.CreateGauge("flowcollector_interface_capacity_bits_per_second", "The capacity of an interface's link, as its agent reports it or the configuration says; absent when unknown.", new GaugeConfiguration { LabelNames = InterfaceLabels, SuppressInitialValue = true });
        _openBySeverity = factory.CreateGauge("flowcollector_incidents_open_by_severity", "Incidents open now, by severity (low, medium, high, critical; each reads 0 when none is open).", "severity");
        _longestOpen = factory.CreateGauge("flowcollector_incidents_longest_open_seconds", "How long the oldest incident open now has been open; 0 when none is.");
        _alerts = factory.CreateCounter("flowcollector_alerts_total", "Alert deliveries by channel, event and outcome: sent, retried, failed (refused or too old), skipped, coalesced (folded into a waiting one), repeated and repeat_failed (Alertmanager's keep-alive).", "channel", "event", "outcome");
        _alertQueue = factory.CreateGauge("flowcollector_alert_queue_depth", "Alert deliveries in the outbox not yet sent nor given up.");
        _factory = factory;
        _alertChangesDropped = factory.CreateCounter("flowcollector_alert_changes_dropped_total", "Incident changes the alert dispatcher dropped because it fell too far behind.");
        _activeActions = factory.CreateGauge("flowcollector_mitigation_active_actions", "Mitigation actions in force now (rules and announcements, dry-run ones included).");
        _mitigationEnabled = factory.CreateGauge("flowcollector_mitigation_enabled", "1 when mitigation acts (Mitigation:Enabled, not dry-run), else 0.");
        _buildInfo = factory.CreateGauge("flowcollector_build_info", "Always 1; the version of the running collector is its label.", "version");
        _storeFailed = factory.CreateCounter("flowcollector_store_batch_failures_total", "Batches the database could not commit (disk full, file removed).");
        _unlistedInterfaces = factory.CreateGauge("flowcollector_interfaces_unlisted", "Interfaces with traffic in the last second that have no series of their own (Metrics:MaxInterfaceSeries reached).");
        _unlistedExporters = factory.CreateGauge("flowcollector_exporters_unlisted", "Exporters the decoder knows that have no series of their own (Metrics:MaxExporterSeries reached; exporters that delivered records come first).");
        _exportersEvicted = factory.CreateCounter("flowcollector_exporters_evicted_total", "Exporters the decoder forgot: to make room for a new one, or silent past Decoder:ExporterIdleLifetime.");
        _pendingRejected = factory.CreateCounter("flowcollector_pending_data_sets_rejected_total", "Data sets that arrived before their template and were dropped because Decoder:MaxPendingBytes was held.");
        _templateBytes = factory.CreateGauge("flowcollector_decoder_template_bytes", "Memory held by templates over all exporters.");
        _pendingBytes = factory.CreateGauge("flowcollector_decoder_pending_bytes", "Memory held by data sets waiting for their template, over all exporters.");
        ProcessMetrics.Register(Registry, factory);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The label a device gets: the exporter's address, or this node's name for local evidence.</summary>
    public string NodeLabel(NetworkAddress device) => device == NetworkAddress.None ? _node : device.ToString();

    /// <summary>
    /// Updates interface and node series from one second's samples; interfaces without traffic read 0, and lose their
    /// series once idle as long as the aggregation keeps them.
    /// </summary>
    public void RecordSecond(TrafficSecond second, InterfaceNames names, Detector? detector = null)
    {
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(names);
        _seenThisSecond.Clear();
        var unlisted = 0;
        foreach (ref readonly var sample in second.Samples)
        {
            if (sample.Key.Kind == KeyKind.Node)
            {
                if (!_nodes.TryGetValue(sample.Key.Source, out var node))
                {
                    var source = TrafficKey.SourceName(sample.Key.Source);
                    node = new NodeSeries(_nodePackets.WithLabels(source), _nodeBytes.WithLabels(source), _nodePacketsPerSecond.WithLabels(source), _nodeBytesPerSecond.WithLabels(source));
                    _nodes.Add(sample.Key.Source, node);
                }

                node.Packets.Inc(sample.Counts.Packets);
                node.Bytes.Inc(sample.Counts.Bytes);
                node.PacketsPerSecond.Set(sample.Counts.Packets);
                node.BytesPerSecond.Set(sample.Counts.Bytes);
                continue;
            }

            if (sample.Key.Kind != KeyKind.Interface)
            {
                continue;
            }

            if (!_interfaces.TryGetValue(sample.Key, out var series))
            {
                if (_interfaces.Count >= _maxInterfaceSeries)
                {
                    unlisted++;
                    continue;
                }

                var labels = new[]
                {
                    NodeLabel(sample.Key.Device),
                    names.NameOf(sample.Key.Interface) ?? sample.Key.Interface.ToString(CultureInfo.InvariantCulture),
                    TrafficKey.DirectionName(sample.Key.Direction),
                    TrafficKey.SourceName(sample.Key.Source),
                };
                series = new InterfaceSeries(
                    _interfacePackets.WithLabels(labels),
                    _interfaceBytes.WithLabels(labels),
                    _interfacePacketsPerSecond.WithLabels(labels),
                    _interfaceBytesPerSecond.WithLabels(labels),
                    _interfaceThresholdPackets.WithLabels(labels),
                    _interfaceThresholdBytes.WithLabels(labels),
                    _interfaceCapacity.WithLabels(labels));
                _interfaces.Add(sample.Key, series);
            }

            series.LastSecond = second.Second;
            series.Packets.Inc(sample.Counts.Packets);
            series.Bytes.Inc(sample.Counts.Bytes);
            series.PacketsPerSecond.Set(sample.Counts.Packets);
            series.BytesPerSecond.Set(sample.Counts.Bytes);
            if (detector is not null && detector.TryGetThresholds(sample.Key, out var thresholds))
            {
                // Infinite while a metric has no floor during learning: Prometheus shows +Inf, which is the truth.
                series.ThresholdPackets.Set(thresholds[(int)DetectionMetric.Pps]);
                series.ThresholdBytes.Set(thresholds[(int)DetectionMetric.Bps] / 8);
                if (detector.Capacities.Of(sample.Key.Device, sample.Key.Interface) is > 0 and var capacity)
                {
                    series.CapacityBits.Set(capacity);
                }
            }

            _seenThisSecond.Add(sample.Key);
        }

        _idle.Clear();
        foreach (var (key, series) in _interfaces)
        {
            if (!_seenThisSecond.Contains(key))
            {
                series.PacketsPerSecond.Set(0);
                series.BytesPerSecond.Set(0);
                if (second.Second - series.LastSecond >= _idleSeconds)
                {
                    _idle.Add(key);
                }
            }
        }

        foreach (var key in _idle)
        {
            _interfaces.Remove(key, out var gone);
            gone!.Remove();
        }

        _unlistedInterfaces.Set(unlisted);
    }

    /// <summary>
    /// Open incidents by type (a type's series appears with its first incident and stays) and by severity (every
    /// severity always, reading 0), and how long the oldest has been open as of <paramref name="now"/>.
    /// </summary>
    public void RecordIncidents(IReadOnlyList<IncidentRecord> open, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(open);
        Array.Clear(_openByType);
        Array.Clear(_openBySeverityCount);
        var longest = 0.0;
        foreach (var incident in open)
        {
            // The enums' values run 0..n-1, in the order of AttackNames.All and of severity.
            _openByType[(int)incident.AttackType]++;
            _openBySeverityCount[(int)incident.Severity]++;
            longest = Math.Max(longest, (now - incident.OpenedAt).TotalSeconds);
        }

        // Made with the first count, once: the labels are looked up once, not every second.
        _openBySeverityChildren ??= [.. Enum.GetValues<Severity>().Select(severity => _openBySeverity.WithLabels(AttackNames.Name(severity)))];
        for (var i = 0; i < _openBySeverityCount.Length; i++)
        {
            _openBySeverityChildren[i].Set(_openBySeverityCount[i]);
        }

        _longestOpen.Set(Math.Round(longest));

        for (var i = 0; i < _openByType.Length; i++)
        {
            // Series appear with their first incident: every scrape of an idle router stays small.
            if (_openByType[i] > 0 && _openIncidentSeries[i] is null)
            {
                _openIncidentSeries[i] = _openIncidents.WithLabels(AttackNames.Name(AttackNames.All[i]));
            }

            _openIncidentSeries[i]?.Set(_openByType[i]);
        }
    }

    /// <summary>The detector's keys, those still learning, and breaches that found no room under the open-incident cap.</summary>
    public void RecordDetection(Detector detector)
    {
        ArgumentNullException.ThrowIfNull(detector);
        _detectionKeys.Set(detector.KeyCount);
        _learningKeys.Set(detector.LearningKeys);
        _implausibleSeconds.IncTo(detector.ImplausibleSeconds);
        foreach (var kind in (ReadOnlySpan<KeyKind>)[KeyKind.Node, KeyKind.Interface, KeyKind.Destination, KeyKind.Prefix])
        {
            var count = detector.Overflow(kind);
            if (count > 0)
            {
                _incidentOverflow.WithLabels(TrafficKey.KindName(kind)).IncTo(count);
            }
        }
    }

    public void RecordStore(long rows, long dropped, long failed)
    {
        _storeRows.IncTo(rows);
        _storeDropped.IncTo(dropped);
        _storeFailed.IncTo(failed);
    }

    /// <summary>The running collector's version, as the build_info convention has it.</summary>
    public void RecordBuild(string version) => _buildInfo.WithLabels(version).Set(1);

    public void RecordAlerts(IReadOnlyDictionary<(string Channel, string Event, string Outcome), long> counters, int queueDepth, long droppedChanges)
    {
        ArgumentNullException.ThrowIfNull(counters);
        _alertQueue.Set(queueDepth);
        _alertChangesDropped.IncTo(droppedChanges);
        foreach (var ((channel, name, outcome), value) in counters)
        {
            _alerts.WithLabels(channel, name, outcome).IncTo(value);
        }
    }

    /// <summary>
    /// Packet evidence: each ring's frames, the incident pcaps' frames and failures, and router mode's samples. The
    /// series appear once there is something to count (a ring, a pcap, a sample): an idle router does not carry them.
    /// </summary>
    public void RecordEvidence(IReadOnlyList<FrameRing> rings, long pcapFrames, long pcapFailures, int recording, long samples, long sampleFailures)
    {
        ArgumentNullException.ThrowIfNull(rings);
        if (_evidence is null && rings.Count == 0 && pcapFrames == 0 && pcapFailures == 0 && recording == 0 && samples == 0 && sampleFailures == 0)
        {
            return;
        }

        var series = _evidence ??= new EvidenceSeries(_factory);
        foreach (var ring in rings)
        {
            series.RingFrames.WithLabels(ring.Name).IncTo(ring.Frames);
            series.RingOverwritten.WithLabels(ring.Name).IncTo(ring.Overwritten);
        }

        series.PcapFrames.IncTo(pcapFrames);
        series.PcapFailures.IncTo(pcapFailures);
        series.PcapRecording.Set(recording);
        series.PacketSamples.WithLabels("described").IncTo(samples);
        series.PacketSamples.WithLabels("failed").IncTo(sampleFailures);
    }

    public void RecordMitigation(IReadOnlyDictionary<string, long> counters, bool? exabgpConnected, int activeActions, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(counters);
        _activeActions.Set(activeActions);
        _mitigationEnabled.Set(enabled ? 1 : 0);
        foreach (var (name, value) in counters)
        {
            _mitigationEvents.WithLabels(name).IncTo(value);
        }

        if (exabgpConnected is { } connected)
        {
            _exabgpConnected.Set(connected ? 1 : 0);
        }
    }

    /// <summary>
    /// Per-exporter series for the exporters the decoder knows now: series of exporters it forgot are removed, and at
    /// most <c>maxExporterSeries</c> exporters have series, those that delivered records before those that did not.
    /// </summary>
    public void RecordExporters(ExporterTable exporters)
    {
        ArgumentNullException.ThrowIfNull(exporters);
        var states = exporters.Snapshot();
        var present = new HashSet<NetworkAddress>(states.Length);
        foreach (var state in states)
        {
            present.Add(state.Address);
        }

        foreach (var address in _exporters.Keys.Where(a => !present.Contains(a)).ToList())
        {
            _exporters.Remove(address, out var gone);
            gone!.Remove();
        }

        // Productive exporters first, then by traffic: a flood of forged senders cannot push real exporters out of view.
        var unlisted = 0;
        foreach (var state in states.OrderByDescending(s => s.IsProductive).ThenByDescending(s => s.Statistics.Datagrams))
        {
            if (!_exporters.TryGetValue(state.Address, out var series))
            {
                if (_exporters.Count >= _maxExporterSeries && !(state.IsProductive && DropUnproductiveSeries(states)))
                {
                    unlisted++;
                    continue;
                }

                series = new ExporterSeries(state.Address.ToString(), this);
                _exporters.Add(state.Address, series);
            }

            series.Record(state);
        }

        _unlistedExporters.Set(unlisted);
        _exportersRejected.IncTo(exporters.ExportersRejected);
        _templatesRejected.IncTo(exporters.TemplatesRejected);
        _exportersEvicted.IncTo(exporters.ExportersEvicted);
        _pendingRejected.IncTo(exporters.PendingRejected);
        _templateBytes.Set(exporters.TemplateBytes);
        _pendingBytes.Set(exporters.PendingBytes);
    }

    /// <summary>Frees a place held by an exporter that never delivered a record; false when every listed one has.</summary>
    private bool DropUnproductiveSeries(ExporterState[] states)
    {
        foreach (var state in states)
        {
            if (!state.IsProductive && _exporters.Remove(state.Address, out var series))
            {
                series.Remove();
                return true;
            }
        }

        return false;
    }

    public void RecordListener(in ListenerCounters counters)
    {
        _listenerDatagrams.WithLabels(counters.Listener).IncTo(counters.Datagrams);
        _listenerRejected.WithLabels(counters.Listener).IncTo(counters.Rejected);
        _listenerKernelDrops.WithLabels(counters.Listener).IncTo(counters.KernelDrops);
    }

    /// <summary>A source's other counters (frames that are not IP, read failures, ...): a handful of series per source.</summary>
    public void RecordSourceEvent(string source, string @event, long count) => _sourceEvents.WithLabels(source, @event).IncTo(count);

    public void RecordAggregation(in AggregationStatistics statistics, TimeSpan tick)
    {
        _destinationOverflow.IncTo(statistics.DestinationOverflow);
        _interfaceOverflow.IncTo(statistics.InterfaceOverflow);
        _counterResets.IncTo(statistics.CounterResets);
        if (statistics.Implausible > 0)
        {
            _implausible.WithLabels("packet_size").IncTo(statistics.ImplausiblePacketSize);
            _implausible.WithLabels("rate").IncTo(statistics.ImplausibleRate);
            _implausible.WithLabels("link_capacity").IncTo(statistics.ImplausibleCapacity);
        }

        _keys.Set(statistics.Keys);
        _tickSeconds.Set(tick.TotalSeconds);
    }

    /// <summary>Writes every metric in the Prometheus text format.</summary>
    public Task ExportAsync(Stream destination, CancellationToken cancellation) => Registry.CollectAndExportAsTextAsync(destination, cancellation);

    /// <summary>The reason label of a decode outcome: snake case, as Prometheus labels go.</summary>
    public static string ReasonLabel(DecodeStatus status) => status switch
    {
        DecodeStatus.Truncated => "truncated",
        DecodeStatus.BadVersion => "bad_version",
        DecodeStatus.BadLength => "bad_length",
        DecodeStatus.BadCount => "bad_count",
        DecodeStatus.BadSetLength => "bad_set_length",
        DecodeStatus.BadTemplate => "bad_template",
        DecodeStatus.TemplateRejected => "template_rejected",
        DecodeStatus.MissingTemplate => "missing_template",
        DecodeStatus.BadRecord => "bad_record",
        DecodeStatus.ExporterRejected => "exporter_rejected",
        _ => "ok",
    };

    private sealed record NodeSeries(Counter.Child Packets, Counter.Child Bytes, Gauge.Child PacketsPerSecond, Gauge.Child BytesPerSecond);

    private sealed record InterfaceSeries(Counter.Child Packets, Counter.Child Bytes, Gauge.Child PacketsPerSecond, Gauge.Child BytesPerSecond, Gauge.Child ThresholdPackets, Gauge.Child ThresholdBytes, Gauge.Child CapacityBits)
    {
        public long LastSecond { get; set; }

        public void Remove()
        {
            Packets.Remove();
            Bytes.Remove();
            PacketsPerSecond.Remove();
            BytesPerSecond.Remove();
            ThresholdPackets.Remove();
            ThresholdBytes.Remove();
            CapacityBits.Remove();
        }
    }

    /// <summary>One exporter's series, made once and removed together.</summary>
    private sealed class ExporterSeries(string exporter, CollectorMetrics metrics)
    {
        private readonly Counter.Child _datagrams = metrics._exporterDatagrams.WithLabels(exporter);
        private readonly Counter.Child _records = metrics._exporterRecords.WithLabels(exporter);
        private readonly Counter.Child _counterSamples = metrics._exporterCounterSamples.WithLabels(exporter);
        private readonly Counter.Child _sequenceLost = metrics._exporterSequenceLost.WithLabels(exporter);
        private readonly Counter.Child _samplesDropped = metrics._exporterSamplesDropped.WithLabels(exporter);
        private readonly Counter.Child _dataSetsDropped = metrics._exporterDataSetsDropped.WithLabels(exporter);
        private readonly Gauge.Child _templates = metrics._exporterTemplates.WithLabels(exporter);
        private readonly Dictionary<DecodeStatus, Counter.Child> _errors = [];

        public void Record(ExporterState state)
        {
            var statistics = state.Statistics;
            _datagrams.IncTo(statistics.Datagrams);
            _records.IncTo(statistics.Records);
            _counterSamples.IncTo(statistics.CounterRecords);
            _sequenceLost.IncTo(statistics.SequenceLost);
            _samplesDropped.IncTo(statistics.SamplesDropped);
            _dataSetsDropped.IncTo(statistics.DataSetsDropped);
            _templates.Set(state.TemplateCount);
            foreach (var status in Statuses)
            {
                var count = statistics.CountOf(status);
                if (status != DecodeStatus.Ok && count > 0)
                {
                    if (!_errors.TryGetValue(status, out var errors))
                    {
                        errors = metrics._exporterErrors.WithLabels(exporter, ReasonLabel(status));
                        _errors.Add(status, errors);
                    }

                    errors.IncTo(count);
                }
            }
        }

        public void Remove()
        {
            _datagrams.Remove();
            _records.Remove();
            _counterSamples.Remove();
            _sequenceLost.Remove();
            _samplesDropped.Remove();
            _dataSetsDropped.Remove();
            _templates.Remove();
            foreach (var errors in _errors.Values)
            {
                errors.Remove();
            }
        }
    }

    private static readonly DecodeStatus[] Statuses = Enum.GetValues<DecodeStatus>();

    /// <summary>The packet evidence's series, made on first use.</summary>
    private sealed class EvidenceSeries(IMetricFactory factory)
    {
        public Counter RingFrames { get; } = factory.CreateCounter("flowcollector_capture_ring_frames_total", "Frames kept in a pre-attack ring (Capture:Ring), by ring (an interface, or sflow).", ["ring"]);

        public Counter RingOverwritten { get; } = factory.CreateCounter("flowcollector_capture_ring_overwritten_total", "Frames of a ring overwritten by newer ones.", ["ring"]);

        public Counter PcapFrames { get; } = factory.CreateCounter("flowcollector_incident_pcap_frames_total", "Frames written to incident pcaps.");

        public Counter PcapFailures { get; } = factory.CreateCounter("flowcollector_incident_pcap_failures_total", "Incident pcaps stopped by a failure (a full disk, a file that cannot be written).");

        public Gauge PcapRecording { get; } = factory.CreateGauge("flowcollector_incident_pcaps_recording", "Incident pcaps being written now.");

        public Counter PacketSamples { get; } = factory.CreateCounter("flowcollector_packet_samples_total", "Router mode: captures of a breaching interface, by outcome (described, failed).", ["outcome"]);
    }
}
