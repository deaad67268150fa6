using FlowCollector.Detection.Incidents;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Runtime;

/// <summary>Tells the journal when an incident opens or closes, and passes every change on to the store.</summary>
internal sealed partial class IncidentLog(ILogger logger, IIncidentObserver next) : IIncidentObserver
{
    public void Opened(IncidentRecord incident)
    {
        LogOpened(logger, incident.Id, incident.AttackType, incident.Key, incident.Confidence, incident.Severity, incident.CurrentPps, incident.ThresholdMetric, incident.Threshold);
        next.Opened(incident);
    }

    public void Updated(IncidentRecord incident, in IncidentSecond second) => next.Updated(incident, second);

    public void Closed(IncidentRecord incident)
    {
        LogClosed(logger, incident.Id, incident.AttackType, incident.Key, incident.CloseReason ?? "calm", incident.PeakPps, incident.PeakBps);
        next.Closed(incident);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "incident {Id} opened: {AttackType} on {Key} (confidence {Confidence}, {Severity}), {Pps} pps, {Metric} over {Threshold}")]
    private static partial void LogOpened(ILogger logger, long id, string attackType, string key, double confidence, string severity, double pps, string metric, double threshold);

    [LoggerMessage(Level = LogLevel.Information, Message = "incident {Id} closed ({Reason}): {AttackType} on {Key}, peak {PeakPps} pps, {PeakBps} bit/s")]
    private static partial void LogClosed(ILogger logger, long id, string attackType, string key, string reason, double peakPps, double peakBps);
}
