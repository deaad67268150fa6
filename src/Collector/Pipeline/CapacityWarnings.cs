using FlowCollector.Collector.Configuration;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Detection.Incidents;
using FlowCollector.Detection.Rates;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Pipeline;

/// <summary>
/// Tells the log when a bounded table is full or input is thrown away: each kind when its counter first grows, then
/// at most once a minute, with how much was lost since and what to do. The counters themselves are in /metrics.
/// Asked every second by the tick, so it allocates nothing unless a line is due.
/// </summary>
internal sealed partial class CapacityWarnings(CollectorOptions options, ILogger logger)
{
    private const long IntervalSeconds = 60;
    private readonly Dictionary<string, (long Logged, long LoggedAtSecond)> _kinds = new(StringComparer.Ordinal);

    /// <summary>True, with the count lost since the last line, when <paramref name="count"/> grew and the kind is due.</summary>
    public bool Due(string kind, long count, long second, out long lost)
    {
        _kinds.TryGetValue(kind, out var last);
        lost = count - last.Logged;
        if (lost <= 0 || (last.LoggedAtSecond != 0 && second - last.LoggedAtSecond < IntervalSeconds))
        {
            return false;
        }

        _kinds[kind] = (count, second);
        return true;
    }

    /// <summary>Looks at every limit after a second has closed and logs those that are due.</summary>
    public void Report(long second, in AggregationStatistics statistics, ExporterTable exporters, Detector? detector)
    {
        ArgumentNullException.ThrowIfNull(exporters);
        var decoder = options.Decoder;
        var aggregation = options.Aggregation;
        if (Due("exporters", exporters.ExportersRejected, second, out var lost))
        {
            LogLimit(logger, $"the exporter table is full ({decoder.MaxExporters} exporters that delivered records and spoke within {decoder.ExporterIdleLifetime}): {lost} datagrams from new senders were refused; Listeners:AllowedExporters keeps forged senders out, Decoder:MaxExporters raises the limit");
        }

        if (Due("templates", exporters.TemplatesRejected, second, out lost))
        {
            LogLimit(logger, $"template caches are full (Decoder:MaxTemplatesPerExporter, MaxTemplates, MaxTemplateBytesPerExporter {decoder.MaxTemplateBytesPerExporter}, MaxTemplateBytes {decoder.MaxTemplateBytes}): {lost} templates were not stored, and data that needs them is not decoded");
        }

        if (Due("pending", exporters.PendingRejected, second, out lost))
        {
            LogLimit(logger, $"data sets that arrived before their template fill Decoder:MaxPendingBytes ({decoder.MaxPendingBytes}): {lost} were dropped");
        }

        if (Due("destinations", statistics.DestinationOverflow, second, out lost))
        {
            LogLimit(logger, $"Aggregation:MaxDestinations ({aggregation.MaxDestinations}) destinations are tracked: {lost} records to others were counted under their interface and prefix only");
        }

        if (Due("interfaces", statistics.InterfaceOverflow, second, out lost))
        {
            LogLimit(logger, $"Aggregation:MaxInterfaces ({aggregation.MaxInterfaces}) interfaces are tracked: {lost} records or counters of others were counted under the node only");
        }

        if (Due("implausible", statistics.Implausible, second, out lost))
        {
            LogLimit(logger, $"{lost} records that cannot describe real traffic were not counted (the latest from exporter {statistics.LastImplausibleExporter}); flowcollector_aggregation_implausible_records_total has the reasons");
        }

        if (detector is null)
        {
            return;
        }

        var overflow = detector.Overflow(KeyKind.Node) + detector.Overflow(KeyKind.Interface) + detector.Overflow(KeyKind.Destination) + detector.Overflow(KeyKind.Prefix);
        if (Due("incidents", overflow, second, out lost))
        {
            LogLimit(logger, $"Detection:MaxOpenIncidents ({options.Detection.MaxOpenIncidents}) incidents are open: {lost} breaching key-seconds opened none");
        }

        if (Due("interface-seconds", detector.ImplausibleSeconds, second, out lost))
        {
            LogLimit(logger, $"{lost} interface-seconds carried more than their link can and were not judged (flowcollector_detection_implausible_seconds_total)");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogLimit(ILogger logger, string message);
}
