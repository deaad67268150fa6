using FlowCollector.Detection;
using Microsoft.Extensions.Options;

namespace FlowCollector.Exporters.Evidence;

/// <summary>
/// The pre-attack ring (<c>Capture:Ring</c>): every capture interface, the router interfaces listed here, and the
/// sFlow listeners' sampled headers keep their last frames in memory, so that an incident's pcap starts before it
/// opened. Off by default: it holds memory and, on routers, a capture thread per interface listed.
/// </summary>
public sealed class RingOptions
{
    public bool Enabled { get; set; }

    /// <summary>Memory per ring; at a snap length of 128, 16 MiB holds about 116,000 frames.</summary>
    [Within(1, 4096)]
    public int MegabytesPerInterface { get; set; } = 16;

    /// <summary>Frames older than this when an incident opens are left out of its pcap.</summary>
    [Within(1, 3600)]
    public int Seconds { get; set; } = 30;

    /// <summary>Router interfaces (as /proc/net/dev names them) that keep a ring too; captured with <c>Capture:Sample</c>'s filter and snap length.</summary>
    public List<string> Interfaces { get; set; } = [];
}

/// <summary>Caps on one incident's pcap (<c>Capture:Pcap</c>): recording stops at the first reached, or when the incident closes.</summary>
public sealed class IncidentPcapOptions
{
    /// <summary>Where the files go; empty: <c>incidents/</c> in the data directory.</summary>
    public string Directory { get; set; } = string.Empty;

    /// <summary><see cref="Directory"/>, or <c>incidents</c> in <paramref name="dataDirectory"/> when it is empty.</summary>
    public string EffectiveDirectory(string dataDirectory) => Directory.Length > 0 ? Directory : Path.Combine(dataDirectory, "incidents");

    [Within(1, 100_000_000)]
    public int MaxPackets { get; set; } = 100_000;

    [Within(1, 86_400)]
    public int MaxSeconds { get; set; } = 600;

    [Within(1, 100_000)]
    public int MaxMegabytes { get; set; } = 64;
}

/// <summary>
/// How long incident pcaps are kept (<c>Capture:Retention</c>): the oldest go first once they are too old or all
/// of them take too much room, and recording stops while the disk has less than the reserve free.
/// </summary>
public sealed class PcapRetentionOptions
{
    [Within(0, 36_500, MinimumMeans = "keep forever")]
    public int MaxAgeDays { get; set; } = 30;

    [Within(1, 10_000_000)]
    public int MaxMegabytes { get; set; } = 2048;

    [Within(0, 10_000_000)]
    public int MinFreeMegabytes { get; set; } = 256;
}

/// <summary>
/// Router mode (<c>Capture:Sample</c>): when an interface read from /proc/net/dev breaches, a short capture on it
/// names the attack type and victims. Needs CAP_NET_RAW; without it incidents stay <c>unknown</c>.
/// </summary>
public sealed class SampleOptions
{
    public bool Enabled { get; set; } = true;

    [Within(100, 1_000_000)]
    public int MaxPackets { get; set; } = 20_000;

    /// <summary>
    /// The sample's length: the incident is described when it ends, so shorter is sooner. 300 ms of a flood at the
    /// learned floor (5,000 pps) is 1,500 packets, enough to name it.
    /// </summary>
    [Within(50, 10_000)]
    public int MaxMilliseconds { get; set; } = 300;

    [Within(64, 65_535)]
    public int SnapLength { get; set; } = 128;

    /// <summary>BPF filter of the sample (and of router interfaces' rings).</summary>
    public string Filter { get; set; } = "ip or ip6";

    /// <summary>While the incident stays open, another sample this often follows its victims; 0 samples once.</summary>
    [Within(0, 3600, MinimumMeans = "sample once")]
    public int FollowSeconds { get; set; } = 5;

    /// <summary>Incidents sampled at once; a breach beyond them waits for the next opening.</summary>
    [Within(1, 64)]
    public int MaxConcurrent { get; set; } = 4;
}

[OptionsValidator]
internal sealed partial class RingOptionsValidator : IValidateOptions<RingOptions>;

[OptionsValidator]
internal sealed partial class IncidentPcapOptionsValidator : IValidateOptions<IncidentPcapOptions>;

[OptionsValidator]
internal sealed partial class PcapRetentionOptionsValidator : IValidateOptions<PcapRetentionOptions>;

[OptionsValidator]
internal sealed partial class SampleOptionsValidator : IValidateOptions<SampleOptions>;

/// <summary>The ranges of the evidence options, each error after its key.</summary>
public static class EvidenceValidation
{
    public static void AddTo(List<string> errors, RingOptions ring, IncidentPcapOptions pcap, PcapRetentionOptions retention, SampleOptions sample)
    {
        ArgumentNullException.ThrowIfNull(errors);
        OptionRanges.AddTo(errors, new RingOptionsValidator().Validate(null, ring), "Capture:Ring:");
        OptionRanges.AddTo(errors, new IncidentPcapOptionsValidator().Validate(null, pcap), "Capture:Pcap:");
        OptionRanges.AddTo(errors, new PcapRetentionOptionsValidator().Validate(null, retention), "Capture:Retention:");
        OptionRanges.AddTo(errors, new SampleOptionsValidator().Validate(null, sample), "Capture:Sample:");
    }
}
