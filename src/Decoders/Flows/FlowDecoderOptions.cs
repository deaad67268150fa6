using Microsoft.Extensions.Options;

namespace FlowCollector.Decoders.Flows;

/// <summary>
/// Limits of the decoder's per-exporter state. Every table is bounded so that a flood of bogus exporters,
/// templates or early data sets cannot grow memory without limit; what does not fit is counted.
/// </summary>
public sealed class FlowDecoderOptions
{
    /// <summary>Exporters tracked at once; idle ones are forgotten first when the table is full.</summary>
    [Within(1, 1_000_000)]
    public int MaxExporters { get; set; } = 4096;

    /// <summary>Templates (data and options) held for one exporter, over all its domains.</summary>
    [Within(1, 65_535)]
    public int MaxTemplatesPerExporter { get; set; } = 1024;

    /// <summary>Templates held over all exporters.</summary>
    [Within(1, 10_000_000)]
    public int MaxTemplates { get; set; } = 32768;

    /// <summary>Fields in one template; longer definitions are rejected and counted.</summary>
    [Within(1, 16_383)]
    public int MaxFieldsPerTemplate { get; set; } = 512;

    /// <summary>
    /// Memory templates may take for one exporter. Counts alone let 40 forged exporters hold 150 MB of 512-field
    /// templates; a real exporter's templates take tens of kilobytes.
    /// </summary>
    [Within(4096, 1024 * 1024 * 1024)]
    public int MaxTemplateBytesPerExporter { get; set; } = 1024 * 1024;

    /// <summary>Memory templates may take over all exporters.</summary>
    [Within(4096, 1024 * 1024 * 1024)]
    public int MaxTemplateBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>A template not refreshed for this long is forgotten (RFC 7011 §8.4). Zero keeps templates forever.</summary>
    public TimeSpan TemplateLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a data set that arrived before its template is held for it.</summary>
    public TimeSpan PendingDataLifetime { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bytes of early data sets held per exporter.</summary>
    [Within(0, 64 * 1024 * 1024)]
    public int PendingBytesPerExporter { get; set; } = 64 * 1024;

    /// <summary>Early data sets held per exporter.</summary>
    [Within(0, 65_535)]
    public int PendingSetsPerExporter { get; set; } = 64;

    /// <summary>Bytes of early data sets held over all exporters: thousands of forged exporters must not each hold their share.</summary>
    [Within(0, 1024 * 1024 * 1024)]
    public int MaxPendingBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>An exporter silent for this long may be forgotten to make room for a new one.</summary>
    public TimeSpan ExporterIdleLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Returns one message per invalid setting, each naming the setting and the reason.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new FlowDecoderOptionsValidator().Validate(null, this));
        if (TemplateLifetime < TimeSpan.Zero)
        {
            errors.Add($"{nameof(TemplateLifetime)}: must be zero (never expire) or positive, got {TemplateLifetime}");
        }

        if (PendingDataLifetime < TimeSpan.Zero || PendingDataLifetime > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{nameof(PendingDataLifetime)}: must be between 0 and 1 minute, got {PendingDataLifetime}");
        }

        if (ExporterIdleLifetime <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(ExporterIdleLifetime)}: must be positive, got {ExporterIdleLifetime}");
        }

        return errors;
    }
}

/// <summary>The ranges declared on <see cref="FlowDecoderOptions"/>, checked by generated code.</summary>
[OptionsValidator]
internal sealed partial class FlowDecoderOptionsValidator : IValidateOptions<FlowDecoderOptions>;
