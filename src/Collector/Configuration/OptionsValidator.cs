using System.Globalization;
using System.Net;
using FlowCollector.Decoders;
using FlowCollector.Detection;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Exporters.Fleet;

namespace FlowCollector.Collector.Configuration;

/// <summary>
/// Checks options at start-up; each message names the configuration key (as in the JSON file) and the reason,
/// so that a bad file fails with something an operator can act on.
/// </summary>
public static class OptionsValidator
{
    /// <param name="options">The options to check.</param>
    /// <param name="fleetService">True for <c>flowcollector fleet</c>, which needs NATS and PostgreSQL and takes no exports.</param>
    public static IReadOnlyList<string> Validate(CollectorOptions options, bool fleetService = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        Port(errors, "Listeners:NetFlowPort", options.Listeners.NetFlowPort);
        Port(errors, "Listeners:IpfixPort", options.Listeners.IpfixPort);
        Port(errors, "Listeners:SFlowPort", options.Listeners.SFlowPort);
        Port(errors, "Listeners:MirrorPort", options.Listeners.MirrorPort);
        var ports = new[] { options.Listeners.NetFlowPort, options.Listeners.IpfixPort, options.Listeners.SFlowPort, options.Listeners.MirrorPort }.Where(p => p != 0).ToList();
        if (ports.Count != ports.Distinct().Count())
        {
            errors.Add($"Listeners: the NetFlow, IPFIX, sFlow and mirror ports must differ (or be 0), got {string.Join(", ", ports)}");
        }

        if (!IPAddress.TryParse(options.Listeners.Address, out _))
        {
            errors.Add($"Listeners:Address: '{options.Listeners.Address}' is not an IP address");
        }

        OptionRanges.AddTo(errors, new ListenerOptionsValidator().Validate(null, options.Listeners), "Listeners:");

        for (var i = 0; i < options.Listeners.AllowedExporters.Count; i++)
        {
            if (!IpPrefix.TryParse(options.Listeners.AllowedExporters[i], out _, out var error))
            {
                errors.Add($"Listeners:AllowedExporters:{i}: {error}");
            }
        }

        if (options.Http.Listen.Length > 0 && !TryParseEndpoint(options.Http.Listen, out _))
        {
            errors.Add($"Http:Listen: '{options.Http.Listen}' is not ADDRESS:PORT (e.g. 0.0.0.0:9750 or [::1]:9750)");
        }

        if (options.Http.ApiToken.Length > 0 && (options.Http.ApiToken.Length < 16 || !options.Http.ApiToken.All(c => c is > ' ' and < (char)0x7f)))
        {
            errors.Add($"Http:ApiToken: at least 16 printable ASCII characters without spaces, got {options.Http.ApiToken.Length} characters");
        }

        for (var i = 0; i < options.Monitor.Prefixes.Count; i++)
        {
            if (!IpPrefix.TryParse(options.Monitor.Prefixes[i], out _, out var error))
            {
                errors.Add($"Monitor:Prefixes:{i}: {error}");
            }
        }

        if (options.ProcNetDev.Mode is not ("auto" or "on" or "off"))
        {
            errors.Add($"ProcNetDev:Mode: must be auto, on or off, got '{options.ProcNetDev.Mode}'");
        }

        if (options.ProcNetDev.Mode == "on" && !File.Exists(options.ProcNetDev.Path))
        {
            errors.Add($"ProcNetDev:Path: {options.ProcNetDev.Path} does not exist, and ProcNetDev:Mode is on");
        }

        OptionRanges.AddTo(errors, new CaptureOptionsValidator().Validate(null, options.Capture), "Capture:");
        EvidenceValidation.AddTo(errors, options.Capture.Ring, options.Capture.Pcap, options.Capture.Retention, options.Capture.Sample);

        errors.AddRange(options.Aggregation.Validate().Select(e => "Aggregation:" + e));
        errors.AddRange(options.Decoder.Validate().Select(e => "Decoder:" + e));
        errors.AddRange(options.Detection.Validate().Select(e => "Detection:" + e));
        errors.AddRange(options.Mitigation.Validate().Select(e => "Mitigation:" + e));
        errors.AddRange(options.Alerts.Validate().Select(e => "Alerts:" + e));
        errors.AddRange(options.Fleet.Validate(fleetService).Select(e => "Fleet:" + e));
        if ((options.Fleet.Publishes || fleetService) && !FleetSubjects.IsToken(options.Node.EffectiveName()))
        {
            errors.Add($"Node:Name: '{options.Node.EffectiveName()}' names this node in NATS subjects, and may hold only letters, digits, - and _ (set Node:Name)");
        }

        if (options.Mitigation.Enabled && options.Monitor.Prefixes.Count == 0)
        {
            errors.Add("Mitigation:Enabled: mitigation acts only inside the monitored prefixes, and Monitor:Prefixes is empty");
        }

        if (!fleetService && options.Mitigation.Enabled && !options.Mitigation.DryRun && !options.Mitigation.TrustAnyExporter && options.Listeners.AllowedExporters.Count == 0 && AcceptsExports(options.Listeners))
        {
            errors.Add("Mitigation:Enabled: any host can send exports to this collector, and a forged datagram could then drop or blackhole a victim; "
                + "list your routers in Listeners:AllowedExporters (e.g. [ \"192.0.2.1\", \"198.51.100.0/28\" ]), "
                + "or set Mitigation:TrustAnyExporter to true where anti-spoofing on the path guarantees exporters' addresses");
        }

        if (fleetService && options.Mitigation.Enabled && !options.Mitigation.DryRun && !options.Mitigation.TrustAnyExporter && !options.Fleet.Nats.Authenticates)
        {
            errors.Add("Mitigation:Enabled: the fleet acts on the summaries any client of NATS may publish, and a forged one could then drop or blackhole a victim; "
                + "give nodes credentials (Fleet:Nats:CredentialsFile, or a user in Fleet:Nats:Url) and let only them publish on the fleet's subjects, "
                + "or set Mitigation:TrustAnyExporter to true where NATS is reachable by the nodes alone");
        }

        OptionRanges.AddTo(errors, new StorageOptionsValidator().Validate(null, options.Storage), "Storage:");
        OptionRanges.AddTo(errors, new MetricsOptionsValidator().Validate(null, options.Metrics), "Metrics:");
        return errors;
    }

    /// <summary>True when some UDP or raw listener takes exports or mirrored frames from the network.</summary>
    public static bool AcceptsExports(ListenerOptions listeners)
    {
        ArgumentNullException.ThrowIfNull(listeners);
        return listeners.NetFlowPort != 0 || listeners.IpfixPort != 0 || listeners.SFlowPort != 0 || listeners.MirrorPort != 0 || listeners.Gre;
    }

    /// <summary>Parses ADDRESS:PORT, with IPv6 addresses in brackets.</summary>
    public static bool TryParseEndpoint(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        if (!IPEndPoint.TryParse(text, out var parsed) || parsed.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal))
        {
            return false;
        }

        endpoint = parsed;
        return text.Contains(':', StringComparison.Ordinal);
    }

    private static void Port(List<string> errors, string key, int port)
    {
        if (port is < 0 or > 65_535)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: must be a UDP port between 1 and 65535, or 0 to disable, got {port}"));
        }
    }
}
