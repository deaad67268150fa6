using FlowCollector.Decoders.Flows;
using FlowCollector.Detection;
using FlowCollector.Detection.Baselines;
using FlowCollector.Detection.Rates;
using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Evidence;
using FlowCollector.Exporters.Fleet;
using FlowCollector.Exporters.Mitigation;
using Microsoft.Extensions.Options;

namespace FlowCollector.Collector.Configuration;

/// <summary>
/// Everything <c>flowcollector run</c> can be told, with the embedded defaults that work on a fresh machine. Bound
/// from the JSON file, then <c>FLOWCOLLECTOR__</c> environment variables, then the command line.
/// </summary>
public sealed class CollectorOptions
{
    public const string DefaultConfigPath = "/etc/flowcollector/flowcollector.json";

    public NodeOptions Node { get; set; } = new();

    public ListenerOptions Listeners { get; set; } = new();

    public HttpOptions Http { get; set; } = new();

    /// <summary>Where state is kept; empty: /var/lib/flowcollector, or the user's data directory when that is not writable.</summary>
    public string DataDirectory { get; set; } = string.Empty;

    public MonitorOptions Monitor { get; set; } = new();

    public ProcNetDevOptions ProcNetDev { get; set; } = new();

    public CaptureOptions Capture { get; set; } = new();

    public AggregationOptions Aggregation { get; set; } = new();

    public FlowDecoderOptions Decoder { get; set; } = new();

    public DetectionOptions Detection { get; set; } = new();

    public StorageOptions Storage { get; set; } = new();

    public MetricsOptions Metrics { get; set; } = new();

    public MitigationOptions Mitigation { get; set; } = new();

    public AlertOptions Alerts { get; set; } = new();

    /// <summary>Publishing to the fleet (a node) and the fleet service's own settings; off unless Fleet:Nats:Url is set.</summary>
    public FleetOptions Fleet { get; set; } = new();
}

public sealed class StorageOptions
{
    /// <summary>The SQLite database; empty: flowcollector.db in the data directory.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>How often learned baselines are saved (and once more at shutdown).</summary>
    [Within(5, 86_400)]
    public int BaselineSaveSeconds { get; set; } = 60;

    /// <summary>Saved baselines older than this are not restored (and are deleted): the network has changed since.</summary>
    [Within(0, 87_600, MinimumMeans = "never restore")]
    public int BaselineMaxAgeHours { get; set; } = 168;

    /// <summary>Closed incidents, with their seconds and actions, are deleted this many days after they closed; 0 keeps them.</summary>
    [Within(0, 36_500, MinimumMeans = "keep forever")]
    public int IncidentRetentionDays { get; set; } = 180;

    /// <summary>The per-second rows of incidents are deleted after this many days, also of incidents kept; 0 keeps them.</summary>
    [Within(0, 36_500, MinimumMeans = "keep forever")]
    public int SecondsRetentionDays { get; set; } = 14;

    /// <summary>The database file: <see cref="Path"/>, or flowcollector.db in <paramref name="dataDirectory"/>.</summary>
    public string DatabasePath(string dataDirectory) => Path.Length > 0 ? Path : System.IO.Path.Combine(dataDirectory, "flowcollector.db");
}

public sealed class MetricsOptions
{
    /// <summary>Interfaces with series of their own in /metrics at once; idle ones lose theirs as the aggregation forgets them.</summary>
    [Within(1, 1_000_000)]
    public int MaxInterfaceSeries { get; set; } = 4096;

    /// <summary>Exporters with series of their own at once; those that delivered records come first.</summary>
    [Within(1, 1_000_000)]
    public int MaxExporterSeries { get; set; } = 512;
}

public sealed class NodeOptions
{
    /// <summary>This collector's name in metrics and alerts; empty: the host name.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary><see cref="Name"/>, or the host name when it is empty.</summary>
    public string EffectiveName() => Name.Length > 0 ? Name : Environment.MachineName;
}

public sealed class ListenerOptions
{
    /// <summary>NetFlow v5 and v9 (any flow protocol is recognised on any port). 0 disables.</summary>
    public int NetFlowPort { get; set; } = 2055;

    /// <summary>IPFIX. 0 disables.</summary>
    public int IpfixPort { get; set; } = 4739;

    /// <summary>sFlow v5. 0 disables.</summary>
    public int SFlowPort { get; set; } = 6343;

    /// <summary>Address to listen on; "::" takes IPv4 and IPv6 (dual stack), "0.0.0.0" IPv4 only.</summary>
    public string Address { get; set; } = "::";

    /// <summary>Sockets per port with SO_REUSEPORT, each with its own receive thread; 0: one per core.</summary>
    [Within(0, 64, MinimumMeans = "one per core")]
    public int SocketsPerPort { get; set; }

    /// <summary>Receive buffer per socket (SO_RCVBUF, forced past net.core.rmem_max when running as root).</summary>
    [Within(65_536, 1_073_741_824)]
    public int ReceiveBufferBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>When not empty, datagrams from other addresses or prefixes are dropped and counted.</summary>
    public List<string> AllowedExporters { get; set; } = [];

    /// <summary>UDP port where TZSP (MikroTik's sniffer stream) or VXLAN mirrored frames arrive; 0 disables.</summary>
    public int MirrorPort { get; set; }

    /// <summary>Receive GRE/ERSPAN mirrored traffic on a raw socket (needs CAP_NET_RAW).</summary>
    public bool Gre { get; set; }
}

public sealed class HttpOptions
{
    /// <summary>ADDRESS:PORT of /metrics, /healthz and /api; an empty string disables HTTP.</summary>
    public string Listen { get; set; } = "0.0.0.0:9750";

    /// <summary>
    /// When set, <c>/api/*</c> answers only requests with <c>Authorization: Bearer</c> and this token, for a port
    /// reachable by others; <c>/metrics</c> and <c>/healthz</c> stay open, as exporters' endpoints do.
    /// </summary>
    public string ApiToken { get; set; } = string.Empty;
}

public sealed class MonitorOptions
{
    /// <summary>Prefixes whose destinations get keys of their own (CIDR, IPv4 or IPv6).</summary>
    public List<string> Prefixes { get; set; } = [];
}

public sealed class ProcNetDevOptions
{
    /// <summary>"auto" reads the file when it exists; "on" requires it; "off" never reads it.</summary>
    public string Mode { get; set; } = "auto";

    public string Path { get; set; } = "/proc/net/dev";

    /// <summary>Interface name patterns read (* and ? wildcards).</summary>
    public List<string> Include { get; set; } = ["*"];

    /// <summary>Interface name patterns skipped, after Include.</summary>
    public List<string> Exclude { get; set; } = ["lo"];
}

public sealed class CaptureOptions
{
    /// <summary>Interfaces to capture mirrored traffic on (SPAN ports, ERSPAN destinations).</summary>
    public List<string> Interfaces { get; set; } = [];

    /// <summary>BPF filter applied in the kernel, e.g. "not port 22".</summary>
    public string Filter { get; set; } = string.Empty;

    /// <summary>Bytes kept of each frame: enough for every header, not the payload.</summary>
    [Within(64, 65_535)]
    public int SnapLength { get; set; } = 256;

    public bool Promiscuous { get; set; } = true;

    // The evidence sections are validated on their own (EvidenceValidation), so that messages carry their keys.
#pragma warning disable SYSLIB1212

    /// <summary>The pre-attack ring of frames; off by default.</summary>
    public RingOptions Ring { get; set; } = new();

    /// <summary>Caps on each incident's pcap.</summary>
    public IncidentPcapOptions Pcap { get; set; } = new();

    /// <summary>How long incident pcaps are kept.</summary>
    public PcapRetentionOptions Retention { get; set; } = new();

    /// <summary>Router mode: the short capture that names a breaching interface's attack and victims.</summary>
    public SampleOptions Sample { get; set; } = new();
#pragma warning restore SYSLIB1212
}

// The ranges declared on the collector's own options sections, checked by generated code.
[OptionsValidator]
internal sealed partial class StorageOptionsValidator : IValidateOptions<StorageOptions>;

[OptionsValidator]
internal sealed partial class MetricsOptionsValidator : IValidateOptions<MetricsOptions>;

[OptionsValidator]
internal sealed partial class ListenerOptionsValidator : IValidateOptions<ListenerOptions>;

[OptionsValidator]
internal sealed partial class CaptureOptionsValidator : IValidateOptions<CaptureOptions>;
