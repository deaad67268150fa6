using System.Buffers.Binary;
using FlowCollector.Decoders.Tests.Support;

namespace FlowCollector.Decoders.Tests.Robustness;

/// <summary>
/// Turns valid export datagrams into hostile ones: bit flips, truncation, lying length and count fields,
/// template floods and template IDs redefined with another layout. Deterministic for a given seed.
/// </summary>
internal sealed class FlowMutator(int seed)
{
    private readonly Random _random = new(seed);

    public Random Random => _random;

    /// <summary>Writes a mutation of <paramref name="seed"/> into <paramref name="output"/> and returns its length.</summary>
    public int Mutate(byte[] seed, byte[] output)
    {
        var kind = _random.Next(8);
        switch (kind)
        {
            case 0:
                return FlipBits(seed, output);
            case 1:
                return Truncate(seed, output);
            case 2:
                return LieInHeader(seed, output);
            case 3:
                return LieInSetLength(seed, output);
            case 4:
                return Copy(TemplateFlood(), output);
            case 5:
                return Copy(RedefinedTemplate(seed), output);
            case 6:
                return RandomBody(seed, output);
            default:
                var length = Copy(seed, output);
                return _random.Next(4) == 0 ? FlipBits(output.AsSpan(0, length).ToArray(), output) : length;
        }
    }

    private static int Copy(ReadOnlySpan<byte> source, byte[] output)
    {
        var length = Math.Min(source.Length, output.Length);
        source[..length].CopyTo(output);
        return length;
    }

    private int FlipBits(byte[] seed, byte[] output)
    {
        var length = Copy(seed, output);
        if (length == 0)
        {
            return 0;
        }

        var flips = 1 + _random.Next(8);
        for (var i = 0; i < flips; i++)
        {
            // Keep the version most of the time so that the flips reach the decoders' insides.
            var position = length > 2 && _random.Next(8) != 0 ? 2 + _random.Next(length - 2) : _random.Next(length);
            output[position] ^= (byte)(1 << _random.Next(8));
        }

        return length;
    }

    private int Truncate(byte[] seed, byte[] output)
    {
        var length = Copy(seed, output);
        return length == 0 ? 0 : _random.Next(length);
    }

    private int LieInHeader(byte[] seed, byte[] output)
    {
        var length = Copy(seed, output);
        if (length >= 4)
        {
            // Offset 2 is the v5/v9 count and the IPFIX message length.
            BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(2), (ushort)LyingValue());
        }

        return length;
    }

    private int LieInSetLength(byte[] seed, byte[] output)
    {
        var length = Copy(seed, output);
        var headerLength = length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(output) switch { 9 => 20, 10 => 16, _ => 0 } : 0;
        if (headerLength == 0 || length < headerLength + 4)
        {
            return length;
        }

        // Walk to a random set and make its length lie; or make a template field count or length lie.
        var offset = headerLength;
        var target = _random.Next(4);
        for (var i = 0; i < target && offset + 4 <= length; i++)
        {
            var setLength = BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(offset + 2));
            if (setLength < 4 || offset + setLength + 4 > length)
            {
                break;
            }

            offset += setLength;
        }

        var field = offset + 2 + (_random.Next(3) * 2);
        if (field + 2 <= length)
        {
            BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(field), (ushort)LyingValue());
        }

        return length;
    }

    /// <summary>
    /// A mutation for XDR formats (sFlow) and frames: bit flips, truncation, random tails, or a lie in one 4-byte
    /// aligned word, where sFlow keeps its counts and lengths.
    /// </summary>
    public int MutateWords(byte[] seed, byte[] output)
    {
        var length = Copy(seed, output);
        switch (_random.Next(5))
        {
            case 0:
                return FlipBits(seed, output);
            case 1:
                return Truncate(seed, output);
            case 2:
                var tail = Math.Min(output.Length, length + _random.Next(64));
                _random.NextBytes(output.AsSpan(length, tail - length));
                return tail;
            default:
                var lies = 1 + _random.Next(3);
                for (var i = 0; i < lies && length >= 8; i++)
                {
                    var word = 4 * _random.Next(length / 4);
                    BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(word), _random.Next(5) switch
                    {
                        0 => 0u,
                        1 => uint.MaxValue,
                        2 => (uint)_random.Next(1, 64),
                        3 => 0x7FFF_FFFFu,
                        _ => (uint)_random.Next(),
                    });
                }

                return length;
        }
    }

    private int LyingValue() => _random.Next(6) switch
    {
        0 => 0,
        1 => 0xFFFF,
        2 => _random.Next(1, 8),
        3 => 31,
        4 => _random.Next(0x10000),
        _ => 65535 - _random.Next(16),
    };

    /// <summary>A datagram of many templates with random IDs, element IDs and lengths (variable, enterprise, zero).</summary>
    private byte[] TemplateFlood()
    {
        var ipfix = _random.Next(2) == 0;
        var templates = 1 + _random.Next(20);
        if (ipfix)
        {
            var builder = new IpfixBuilder(domain: (uint)_random.Next(4), sequence: (uint)_random.Next());
            for (var i = 0; i < templates; i++)
            {
                var id = (ushort)_random.Next(256, 65536);
                var fields = RandomFields(enterprise: true);
                if (_random.Next(4) == 0)
                {
                    builder.OptionsTemplate(id, fields[..1], fields[1..]);
                }
                else
                {
                    builder.Template(id, fields);
                }
            }

            return builder.Build();
        }

        var v9 = new NetFlowV9Builder(sourceId: (uint)_random.Next(4), sequence: (uint)_random.Next());
        for (var i = 0; i < templates; i++)
        {
            var fields = RandomFields(enterprise: false);
            if (_random.Next(4) == 0)
            {
                v9.OptionsTemplate((ushort)_random.Next(256, 65536), fields[..1], fields[1..]);
            }
            else
            {
                v9.Template((ushort)_random.Next(256, 65536), fields);
            }
        }

        return v9.Build();
    }

    /// <summary>Redefines the template that the seed's first data set uses with a random layout, then repeats the data.</summary>
    private byte[] RedefinedTemplate(byte[] seed)
    {
        if (seed.Length < 24)
        {
            return seed;
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(seed);
        var headerLength = version switch { 9 => 20, 10 => 16, _ => 0 };
        if (headerLength == 0)
        {
            return seed;
        }

        var offset = headerLength;
        while (offset + 4 <= seed.Length)
        {
            var setId = BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(offset));
            var setLength = BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(offset + 2));
            if (setLength < 4 || offset + setLength > seed.Length)
            {
                break;
            }

            if (setId >= 256)
            {
                var body = seed.AsSpan(offset + 4, setLength - 4).ToArray();
                var domain = BinaryPrimitives.ReadUInt32BigEndian(seed.AsSpan(headerLength - 4));
                var fields = RandomFields(enterprise: version == 10);
                return version == 9
                    ? new NetFlowV9Builder(sourceId: domain).Template(setId, fields).FlowSet(setId, body).Build()
                    : new IpfixBuilder(domain: domain).Template(setId, fields).Set(setId, body).Build();
            }

            offset += setLength;
        }

        return seed;
    }

    private int RandomBody(byte[] seed, byte[] output)
    {
        var length = Math.Min(output.Length, 4 + _random.Next(1500));
        _random.NextBytes(output.AsSpan(0, length));
        if (seed.Length >= 2)
        {
            output[0] = seed[0];
            output[1] = seed[1];
        }

        return length;
    }

    private Field[] RandomFields(bool enterprise)
    {
        var count = 1 + _random.Next(_random.Next(10) == 0 ? 600 : 30);
        var fields = new Field[count];
        for (var i = 0; i < count; i++)
        {
            var type = (ushort)(_random.Next(3) == 0 ? _random.Next(1, 400) : _random.Next(1, 0x7FFF));
            var length = (ushort)(_random.Next(10) switch
            {
                0 => 0xFFFF,
                1 => 0,
                2 => _random.Next(0x10000),
                _ => new[] { 1, 2, 3, 4, 8, 16 }[_random.Next(6)],
            });
            var pen = enterprise && _random.Next(5) == 0 ? (uint)_random.Next(1, 40000) : 0;
            fields[i] = new Field(type, length, pen);
        }

        return fields;
    }
}
