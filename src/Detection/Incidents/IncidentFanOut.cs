namespace FlowCollector.Detection.Incidents;

/// <summary>Tells several observers, in order (the store before the actions, so that an action's incident is recorded first).</summary>
public sealed class IncidentFanOut(params IIncidentObserver[] observers) : IIncidentObserver
{
    public void Opened(IncidentRecord incident)
    {
        foreach (var observer in observers)
        {
            observer.Opened(incident);
        }
    }

    public void Updated(IncidentRecord incident, in IncidentSecond second)
    {
        foreach (var observer in observers)
        {
            observer.Updated(incident, second);
        }
    }

    public void Closed(IncidentRecord incident)
    {
        foreach (var observer in observers)
        {
            observer.Closed(incident);
        }
    }
}
