using System.Globalization;

namespace FlowCollector.Decoders;

/// <summary>An IPv4 or IPv6 prefix, such as 203.0.113.0/24 or 2001:db8::/32.</summary>
public readonly record struct IpPrefix(NetworkAddress Network, int Length)
{
    public bool IsIPv4 => Network.IsIPv4;

    public bool Contains(NetworkAddress address) => address.IsInPrefix(Network, Length);

    /// <summary>Parses "address/length" (a bare address is a /32 or /128); the error names what is wrong.</summary>
    public static bool TryParse(string? text, out IpPrefix prefix, out string error)
    {
        prefix = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty prefix";
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!NetworkAddress.TryParse(addressText.Trim(), out var address))
        {
            error = $"'{addressText}' is not an IP address";
            return false;
        }

        var maximum = address.IsIPv4 ? 32 : 128;
        var length = maximum;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out length) || length < 0 || length > maximum))
        {
            error = $"'{text[(slash + 1)..]}' is not a prefix length between 0 and {maximum}";
            return false;
        }

        prefix = new IpPrefix(Mask(address, length), length);
        error = string.Empty;
        return true;
    }

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var prefix, out var error) ? prefix : throw new FormatException(error);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Network}/{Length}");

    /// <summary>The address with only its first <paramref name="length"/> bits kept (the network of its prefix).</summary>
    public static NetworkAddress Mask(NetworkAddress address, int length)
    {
        var bits = address.IsIPv4 ? length + 96 : length;
        var high = bits >= 64 ? address.High : bits <= 0 ? 0 : address.High & ~(ulong.MaxValue >> bits);
        var low = bits >= 128 ? address.Low : bits <= 64 ? 0 : address.Low & ~(ulong.MaxValue >> (bits - 64));
        return NetworkAddress.FromIPv6(high, low);
    }
}
