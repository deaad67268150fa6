using FlowCollector.Decoders;
using FlowCollector.Detection.Incidents;

namespace FlowCollector.Exporters.Alerts;

/// <summary>
/// Which channels hear an incident at a severity: the routes of the most specific override that applies (an
/// interface override before any prefix, then the longest prefix holding the incident's address), else the
/// global routes; a severity no route names is heard by every channel. A channel's own event list narrows further.
/// </summary>
public sealed class AlertRouter
{
    private readonly AlertOptions _options;
    private readonly string[] _all;
    private readonly List<(IpPrefix Prefix, AlertRoutes Routes)> _prefixes;
    private readonly Dictionary<string, HashSet<AlertEventKind>?> _events;

    public AlertRouter(AlertOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _all = [.. options.Channels.Select(c => c.Name)];
        _prefixes = [.. options.Overrides
            .Where(o => o.Prefix.Length > 0 && IpPrefix.TryParse(o.Prefix, out _, out _))
            .Select(o => (Prefix: ParsePrefix(o.Prefix), o.Routes))
            .OrderByDescending(o => o.Prefix.Length)];
        _events = options.Channels.ToDictionary(
            c => c.Name,
            c => c.Events.Count == 0 ? null : c.Events.Select(e => AlertEventNames.TryParse(e, out var kind) ? kind : AlertEventKind.Test).ToHashSet(),
            StringComparer.Ordinal);
    }

    /// <summary>The channels routed for <paramref name="incident"/> at <paramref name="severity"/>.</summary>
    public IReadOnlyList<string> Channels(IncidentRecord incident, Severity severity)
    {
        ArgumentNullException.ThrowIfNull(incident);
        return RoutesFor(incident).For(severity) ?? _options.Routes.For(severity) ?? _all;
    }

    /// <summary>Whether the channel asked to hear this kind of event.</summary>
    public bool Wants(string channel, AlertEventKind kind) => !_events.TryGetValue(channel, out var wanted) || wanted is null || wanted.Contains(kind);

    private AlertRoutes RoutesFor(IncidentRecord incident)
    {
        if (incident.Interface is { } name)
        {
            var qualified = incident.Exporter is { } exporter ? $"{exporter}/{name}" : name;
            foreach (var entry in _options.Overrides)
            {
                if (entry.Interface.Length > 0 && (entry.Interface == name || entry.Interface == qualified))
                {
                    return entry.Routes;
                }
            }
        }

        if (incident.Address is { } text && IpPrefix.TryParse(text, out var address, out _))
        {
            foreach (var (prefix, routes) in _prefixes)
            {
                if (prefix.Length <= address.Length && prefix.Contains(address.Network))
                {
                    return routes;
                }
            }
        }

        return _options.Routes;
    }

    private static IpPrefix ParsePrefix(string text) => IpPrefix.TryParse(text, out var prefix, out _) ? prefix : default;
}
