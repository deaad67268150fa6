using Microsoft.Extensions.Options;

namespace FlowCollector.Detection.Rates;

/// <summary>Bounds of the per-second aggregation.</summary>
public sealed class AggregationOptions
{
    /// <summary>Destination keys tracked at once, over all receive threads; beyond it destinations are counted as overflow.</summary>
    [Within(1, 10_000_000)]
    public int MaxDestinations { get; set; } = 10_000;

    /// <summary>Interface keys tracked at once.</summary>
    [Within(1, 1_000_000)]
    public int MaxInterfaces { get; set; } = 4096;

    /// <summary>The longest a flow record is spread over, in seconds (its duration beyond is cut).</summary>
    [Within(1, AggregationShard.WheelSeconds - 1)]
    public int MaxSpreadSeconds { get; set; } = 120;

    /// <summary>A key without traffic for this long is forgotten.</summary>
    [Within(10, 86_400)]
    public int IdleSeconds { get; set; } = 300;

    /// <summary>
    /// The highest packet rate one record may claim (after sampling, over its duration): about what an 800 Gbit/s
    /// link carries in minimum-size frames. Records beyond it are counted as implausible, not as traffic.
    /// </summary>
    [Within(1_000, 1e12)]
    public double MaxRecordPps { get; set; } = 1.5e9;

    /// <summary>The highest bit rate one record may claim: faster than any single link.</summary>
    [Within(1e6, 1e15)]
    public double MaxRecordBps { get; set; } = 1e12;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new AggregationOptionsValidator().Validate(null, this));
        return errors;
    }
}

/// <summary>The ranges declared on <see cref="AggregationOptions"/>, checked by generated code.</summary>
[OptionsValidator]
internal sealed partial class AggregationOptionsValidator : IValidateOptions<AggregationOptions>;
