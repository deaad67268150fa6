using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FlowCollector.Decoders;

/// <summary>
/// An IPv4 or IPv6 address in 16 bytes, copied by value and never allocated. IPv4 is held IPv4-mapped
/// (<c>::ffff:a.b.c.d</c>, RFC 4291 §2.5.5.2) so that one type serves both families in keys and records.
/// </summary>
public readonly struct NetworkAddress : IEquatable<NetworkAddress>, IComparable<NetworkAddress>
{
    private const ulong MappedPrefix = 0x0000_FFFF_0000_0000UL;

    private readonly ulong _high;
    private readonly ulong _low;

    private NetworkAddress(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>The unspecified address (<c>::</c>), also the default value.</summary>
    public static NetworkAddress None => default;

    public bool IsIPv4 => _high == 0 && (_low & 0xFFFF_FFFF_0000_0000UL) == MappedPrefix;

    /// <summary>The IPv4 address as a host-order integer; meaningful only when <see cref="IsIPv4"/>.</summary>
    public uint IPv4Value => (uint)_low;

    public ulong High => _high;

    public ulong Low => _low;

    public static NetworkAddress FromIPv4(uint hostOrder) => new(0, MappedPrefix | hostOrder);

    /// <summary>Reads 4 network-order bytes.</summary>
    public static NetworkAddress FromIPv4(ReadOnlySpan<byte> bytes) => FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes));

    /// <summary>Reads 16 network-order bytes.</summary>
    public static NetworkAddress FromIPv6(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));

    public static NetworkAddress FromIPv6(ulong high, ulong low) => new(high, low);

    public static NetworkAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return FromIPv4(bytes);
        }

        address.TryWriteBytes(bytes, out _);
        return FromIPv6(bytes);
    }

    public static NetworkAddress Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static bool TryParse(string? text, out NetworkAddress address)
    {
        if (IPAddress.TryParse(text, out var parsed))
        {
            address = FromIPAddress(parsed);
            return true;
        }

        address = default;
        return false;
    }

    /// <summary>Writes the address in network order: 4 bytes for IPv4, 16 for IPv6.</summary>
    public int WriteBytes(Span<byte> destination)
    {
        if (IsIPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, IPv4Value);
            return 4;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
        return 16;
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        var length = WriteBytes(bytes);
        return new IPAddress(bytes[..length]);
    }

    /// <summary>True when the address lies in <paramref name="network"/>/<paramref name="prefixLength"/> of the same family.</summary>
    public bool IsInPrefix(NetworkAddress network, int prefixLength)
    {
        if (IsIPv4 != network.IsIPv4)
        {
            return false;
        }

        var bits = IsIPv4 ? prefixLength + 96 : prefixLength;
        if (bits <= 0)
        {
            return true;
        }

        if (bits <= 64)
        {
            var mask = bits == 64 ? ulong.MaxValue : ~(ulong.MaxValue >> bits);
            return (_high & mask) == (network._high & mask);
        }

        if (_high != network._high)
        {
            return false;
        }

        var lowBits = bits - 64;
        var lowMask = lowBits >= 64 ? ulong.MaxValue : ~(ulong.MaxValue >> lowBits);
        return (_low & lowMask) == (network._low & lowMask);
    }

    public bool Equals(NetworkAddress other) => _high == other._high && _low == other._low;

    public override bool Equals(object? obj) => obj is NetworkAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low);

    public int CompareTo(NetworkAddress other)
    {
        var byHigh = _high.CompareTo(other._high);
        return byHigh != 0 ? byHigh : _low.CompareTo(other._low);
    }

    public override string ToString() => ToIPAddress().ToString();

    public static bool operator ==(NetworkAddress left, NetworkAddress right) => left.Equals(right);

    public static bool operator !=(NetworkAddress left, NetworkAddress right) => !left.Equals(right);

    public static bool operator <(NetworkAddress left, NetworkAddress right) => left.CompareTo(right) < 0;

    public static bool operator >(NetworkAddress left, NetworkAddress right) => left.CompareTo(right) > 0;

    public static bool operator <=(NetworkAddress left, NetworkAddress right) => left.CompareTo(right) <= 0;

    public static bool operator >=(NetworkAddress left, NetworkAddress right) => left.CompareTo(right) >= 0;
}
