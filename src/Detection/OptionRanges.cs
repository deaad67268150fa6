using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace FlowCollector.Detection;

/// <summary>
/// A setting's allowed range, declared on the options property and checked by the options validation source
/// generator (<see cref="OptionsValidatorAttribute"/>). Its message is the project's: the reason and the value
/// given, after the key the validator puts first ("MaxRules: must be between 0 and 100000, got -1"). NaN is never
/// in range.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class WithinAttribute : ValidationAttribute
{
    public WithinAttribute(double minimum, double maximum)
    {
        Minimum = minimum;
        Maximum = maximum;
    }

    public double Minimum { get; }

    public double Maximum { get; }

    /// <summary>The minimum itself is not allowed ("above 0").</summary>
    public bool MinimumIsExclusive { get; init; }

    /// <summary>What the minimum means, when it is special ("keep forever").</summary>
    public string? MinimumMeans { get; init; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        var number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        var aboveMinimum = MinimumIsExclusive ? number > Minimum : number >= Minimum;
        if (aboveMinimum && number <= Maximum)
        {
            return ValidationResult.Success;
        }

        var minimum = Minimum.ToString(CultureInfo.InvariantCulture) + (MinimumMeans is null ? string.Empty : $" ({MinimumMeans})");
        var message = MinimumIsExclusive
            ? $"must be above {minimum} and at most {Maximum.ToString(CultureInfo.InvariantCulture)}, got {Convert.ToString(value, CultureInfo.InvariantCulture)}"
            : $"must be between {minimum} and {Maximum.ToString(CultureInfo.InvariantCulture)}, got {Convert.ToString(value, CultureInfo.InvariantCulture)}";
        return new ValidationResult(message, validationContext.MemberName is { } member ? [member] : null);
    }
}

/// <summary>Turns a generated validator's result into the project's messages, each starting with its key.</summary>
public static class OptionRanges
{
    /// <summary>
    /// Adds each failure of <paramref name="result"/> to <paramref name="errors"/>, with <paramref name="prefix"/>
    /// (e.g. <c>ExaBgp:</c>) before the member's name for options nested in others.
    /// </summary>
    public static void AddTo(List<string> errors, ValidateOptionsResult result, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(result);
        foreach (var failure in result.Failures ?? [])
        {
            errors.Add(prefix + failure);
        }
    }
}
