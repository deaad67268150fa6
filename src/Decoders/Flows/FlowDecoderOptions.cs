namespace FlowCollector.Decoders.Flows;

/// <summary>
/// Limits of the decoder's per-exporter state. Every table is bounded so that a flood of bogus exporters,
/// templates or early data sets cannot grow memory without limit; what does not fit is counted.
/// </summary>
public sealed class FlowDecoderOptions
{
    /// <summary>Exporters tracked at once; idle ones are forgotten first when the table is full.</summary>
    public int MaxExporters { get; set; } = 4096;

    /// <summary>Templates (data and options) held for one exporter, over all its domains.</summary>
    public int MaxTemplatesPerExporter { get; set; } = 1024;

    /// <summary>Templates held over all exporters.</summary>
    public int MaxTemplates { get; set; } = 32768;

    /// <summary>Fields in one template; longer definitions are rejected and counted.</summary>
    public int MaxFieldsPerTemplate { get; set; } = 512;

    /// <summary>
    /// Memory templates may take for one exporter. Counts alone let 40 forged exporters hold 150 MB of 512-field
    /// templates; a real exporter's templates take tens of kilobytes.
    /// </summary>
    public int MaxTemplateBytesPerExporter { get; set; } = 1024 * 1024;

    /// <summary>Memory templates may take over all exporters.</summary>
    public int MaxTemplateBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>A template not refreshed for this long is forgotten (RFC 7011 §8.4). Zero keeps templates forever.</summary>
    public TimeSpan TemplateLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a data set that arrived before its template is held for it.</summary>
    public TimeSpan PendingDataLifetime { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bytes of early data sets held per exporter.</summary>
    public int PendingBytesPerExporter { get; set; } = 64 * 1024;

    /// <summary>Early data sets held per exporter.</summary>
    public int PendingSetsPerExporter { get; set; } = 64;

    /// <summary>Bytes of early data sets held over all exporters: thousands of forged exporters must not each hold their share.</summary>
    public int MaxPendingBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>An exporter silent for this long may be forgotten to make room for a new one.</summary>
    public TimeSpan ExporterIdleLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Returns one message per invalid setting, each naming the setting and the reason.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        RequireRange(errors, nameof(MaxExporters), MaxExporters, 1, 1_000_000);
        RequireRange(errors, nameof(MaxTemplatesPerExporter), MaxTemplatesPerExporter, 1, 65_535);
        RequireRange(errors, nameof(MaxTemplates), MaxTemplates, 1, 10_000_000);
        RequireRange(errors, nameof(MaxFieldsPerTemplate), MaxFieldsPerTemplate, 1, 16_383);
        RequireRange(errors, nameof(PendingBytesPerExporter), PendingBytesPerExporter, 0, 64 * 1024 * 1024);
        RequireRange(errors, nameof(PendingSetsPerExporter), PendingSetsPerExporter, 0, 65_535);
        RequireRange(errors, nameof(MaxPendingBytes), MaxPendingBytes, 0, 1024 * 1024 * 1024);
        RequireRange(errors, nameof(MaxTemplateBytesPerExporter), MaxTemplateBytesPerExporter, 4096, 1024 * 1024 * 1024);
        RequireRange(errors, nameof(MaxTemplateBytes), MaxTemplateBytes, 4096, 1024 * 1024 * 1024);
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

    private static void RequireRange(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{name}: must be between {min} and {max}, got {value}");
        }
    }
}
