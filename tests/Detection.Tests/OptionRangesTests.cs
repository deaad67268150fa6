using FlowCollector.Detection.Baselines;
using Microsoft.Extensions.Options;

namespace FlowCollector.Detection.Tests;

public sealed class OptionRangesTests
{
    [Fact]
    public void Validate_ValuesOutsideTheirRanges_NameTheKeyTheRangeAndTheValue()
    {
        var errors = new DetectionOptions { CooldownSeconds = 0, MaxOpenIncidents = 2_000_000, Hysteresis = 0 }.Validate();

        Assert.Contains("CooldownSeconds: must be between 1 and 3600, got 0", errors);
        Assert.Contains("MaxOpenIncidents: must be between 1 and 1000000, got 2000000", errors);
        Assert.Contains("Hysteresis: must be above 0 and at most 1, got 0", errors);
        Assert.Equal(3, errors.Count);
    }

    [Theory]
    [InlineData(0.5, true)]
    [InlineData(1.0, true)]
    [InlineData(0.0, false)]
    [InlineData(1.5, false)]
    [InlineData(double.NaN, false)]
    [InlineData(double.PositiveInfinity, false)]
    public void Validate_ExclusiveMinimum_AllowsOnlyValuesAboveItAndNeverNaN(double share, bool valid)
    {
        var errors = new List<string>();
        OptionRanges.AddTo(errors, new ShareValidator().Validate(null, new ShareOptions { Share = share }), "Section:");

        if (valid)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.StartsWith("Section:Share: must be above 0 (nothing) and at most 1, got ", Assert.Single(errors), StringComparison.Ordinal);
        }
    }
}

public sealed class ShareOptions
{
    [Within(0, 1, MinimumIsExclusive = true, MinimumMeans = "nothing")]
    public double Share { get; set; }
}

[OptionsValidator]
internal sealed partial class ShareValidator : IValidateOptions<ShareOptions>;
