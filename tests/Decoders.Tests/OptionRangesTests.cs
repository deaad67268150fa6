using FlowCollector.Decoders.Flows;
using Microsoft.Extensions.Options;

namespace FlowCollector.Decoders.Tests;

public sealed class OptionRangesTests
{
    [Fact]
    public void Validate_ValuesOutsideTheirRanges_NameTheKeyTheRangeAndTheValue()
    {
        var errors = new FlowDecoderOptions { MaxExporters = 0, MaxTemplateBytes = 100 }.Validate();

        Assert.Contains("MaxExporters: must be between 1 and 1000000, got 0", errors);
        Assert.Contains("MaxTemplateBytes: must be between 4096 and 1073741824, got 100", errors);
        Assert.Equal(2, errors.Count);
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
