using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Incidents;

/// <summary>Tells the journal when an incident opens, escalates, is described by a packet sample, or closes.</summary>
internal sealed partial class IncidentLog(ILogger logger) : IIncidentObserver
{
    public void OnIncident(in IncidentEvent change)
    {
        var incident = change.Incident;
        var severity = AttackNames.Name(incident.Severity);
        var metric = MetricValues.Name(incident.ThresholdMetric);
        var type = AttackNames.Name(incident.AttackType);
        switch (change.Change)
        {
            case IncidentChange.Opened:
                LogOpened(logger, incident.Id, type, incident.Key, incident.Confidence, severity, incident.CurrentPps, metric, incident.Threshold);
                break;
            case IncidentChange.Escalated:
                LogEscalated(logger, incident.Id, type, incident.Key, severity, incident.PeakPps, incident.PeakBps);
                break;
            case IncidentChange.Described:
                LogDescribed(logger, incident.Id, type, incident.Key, incident.Confidence, incident.Address ?? "no victim");
                break;
            case IncidentChange.Closed:
                var reason = CloseReasons.Name(incident.CloseReason ?? CloseReason.Calm);
                LogClosed(logger, incident.Id, type, incident.Key, reason, incident.PeakPps, incident.PeakBps);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "incident {Id} escalated to {Severity}: {AttackType} on {Key}, peak {PeakPps} pps, {PeakBps} bit/s")]
    private static partial void LogEscalated(ILogger logger, long id, string attackType, string key, string severity, double peakPps, double peakBps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "incident {Id} opened: {AttackType} on {Key} (confidence {Confidence}, {Severity}), {Pps} pps, {Metric} over {Threshold}")]
    private static partial void LogOpened(ILogger logger, long id, string attackType, string key, double confidence, string severity, double pps, string metric, double threshold);

    [LoggerMessage(Level = LogLevel.Warning, Message = "incident {Id} described by a packet sample: {AttackType} on {Key} (confidence {Confidence}), victim {Victim}")]
    private static partial void LogDescribed(ILogger logger, long id, string attackType, string key, double confidence, string victim);

    [LoggerMessage(Level = LogLevel.Information, Message = "incident {Id} closed ({Reason}): {AttackType} on {Key}, peak {PeakPps} pps, {PeakBps} bit/s")]
    private static partial void LogClosed(ILogger logger, long id, string attackType, string key, string reason, double peakPps, double peakBps);
}
