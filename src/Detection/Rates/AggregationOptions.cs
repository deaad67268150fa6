namespace FlowCollector.Detection.Rates;

/// <summary>Bounds of the per-second aggregation.</summary>
public sealed class AggregationOptions
{
    /// <summary>Destination keys tracked at once, over all receive threads; beyond it destinations are counted as overflow.</summary>
    public int MaxDestinations { get; set; } = 10_000;

    /// <summary>Interface keys tracked at once.</summary>
    public int MaxInterfaces { get; set; } = 4096;

    /// <summary>The longest a flow record is spread over, in seconds (its duration beyond is cut).</summary>
    public int MaxSpreadSeconds { get; set; } = 120;

    /// <summary>A key without traffic for this long is forgotten.</summary>
    public int IdleSeconds { get; set; } = 300;

    /// <summary>
    /// The highest packet rate one record may claim (after sampling, over its duration): about what an 800 Gbit/s
    /// link carries in minimum-size frames. Records beyond it are counted as implausible, not as traffic.
    /// </summary>
    public double MaxRecordPps { get; set; } = 1.5e9;

    /// <summary>The highest bit rate one record may claim: faster than any single link.</summary>
    public double MaxRecordBps { get; set; } = 1e12;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxDestinations is < 1 or > 10_000_000)
        {
            errors.Add($"{nameof(MaxDestinations)}: must be between 1 and 10000000, got {MaxDestinations}");
        }

        if (MaxInterfaces is < 1 or > 1_000_000)
        {
            errors.Add($"{nameof(MaxInterfaces)}: must be between 1 and 1000000, got {MaxInterfaces}");
        }

        if (MaxSpreadSeconds is < 1 or > AggregationShard.WheelSeconds - 1)
        {
            errors.Add($"{nameof(MaxSpreadSeconds)}: must be between 1 and {AggregationShard.WheelSeconds - 1}, got {MaxSpreadSeconds}");
        }

        if (IdleSeconds is < 10 or > 86_400)
        {
            errors.Add($"{nameof(IdleSeconds)}: must be between 10 and 86400, got {IdleSeconds}");
        }

        if (!(MaxRecordPps is >= 1_000 and <= 1e12))
        {
            errors.Add($"{nameof(MaxRecordPps)}: must be between 1000 and 1e12, got {MaxRecordPps}");
        }

        if (!(MaxRecordBps is >= 1e6 and <= 1e15))
        {
            errors.Add($"{nameof(MaxRecordBps)}: must be between 1e6 and 1e15, got {MaxRecordBps}");
        }

        return errors;
    }
}
