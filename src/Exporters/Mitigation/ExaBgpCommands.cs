using System.Globalization;
using FlowCollector.Detection.Mitigation;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>ExaBGP 4 text-encoder commands for FlowSpec (RFC 8955) and RTBH (RFC 7999) routes.</summary>
public static class ExaBgpCommands
{
    public static string AnnounceFlow(MitigationRule rule, double rateLimitBytes)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var then = rateLimitBytes > 0 ? string.Create(CultureInfo.InvariantCulture, $"rate-limit {rateLimitBytes:0}") : "discard";
        return $"announce flow route {{ {rule.ToFlowSpecMatch()} then {{ {then}; }} }}";
    }

    public static string WithdrawFlow(MitigationRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return $"withdraw flow route {{ {rule.ToFlowSpecMatch()} }}";
    }

    public static string AnnounceBlackhole(MitigationRule rule, string nextHop, IEnumerable<string> communities)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return $"announce route {rule.Destination} next-hop {nextHop} community [{string.Join(' ', communities)}]";
    }

    public static string WithdrawBlackhole(MitigationRule rule, string nextHop)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return $"withdraw route {rule.Destination} next-hop {nextHop}";
    }

    /// <summary>The withdrawal of an announcement as recorded (announce ... → withdraw ...), without the action part.</summary>
    public static string WithdrawalOf(string announcement)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        if (announcement.StartsWith("announce flow route", StringComparison.Ordinal))
        {
            var then = announcement.LastIndexOf(" then {", StringComparison.Ordinal);
            return "withdraw flow route" + announcement["announce flow route".Length..then] + " }";
        }

        var community = announcement.IndexOf(" community", StringComparison.Ordinal);
        return "withdraw" + announcement["announce".Length..(community < 0 ? announcement.Length : community)];
    }
}
