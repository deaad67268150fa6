using System.Buffers.Binary;
using FlowCollector.Collector.Capture;
using FlowCollector.Decoders.Packets;

namespace FlowCollector.Collector.Tests.Support;

/// <summary>
/// Writes a capture of hostile export datagrams, from a fixed seed: the project's IPFIX and sFlow datagrams with
/// flipped bits, cut short, with lying length fields, or replaced by noise behind a valid version.
/// </summary>
internal static class MutationCorpus
{
    /// <summary>Writes <paramref name="count"/> mutated datagrams to a pcap file; returns how many were written.</summary>
    public static int Write(string path, int seed, int count)
    {
        var seeds = Payloads("softflowd-ipfix.pcap").Concat(Payloads("softflowd-v9.pcap")).Concat(Payloads("pmacct-sflow.pcap").Take(20)).ToList();
        var random = new Random(seed);
        using var file = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1);
        file.Write(header);
        Span<byte> record = stackalloc byte[16];
        for (var i = 0; i < count; i++)
        {
            var payload = Mutate(seeds[random.Next(seeds.Count)], random);
            var frame = Frame(payload);
            BinaryPrimitives.WriteUInt32LittleEndian(record, 1_700_000_000);
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)i);
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
            file.Write(record);
            file.Write(frame);
        }

        return count;
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var data = (byte[])seed.Clone();
        switch (random.Next(4))
        {
            case 0:
                for (var flips = 1 + random.Next(8); flips > 0; flips--)
                {
                    data[2 + random.Next(data.Length - 2)] ^= (byte)(1 << random.Next(8));
                }

                return data;
            case 1:
                return data[..Math.Max(1, random.Next(data.Length))];
            case 2:
                var offset = 2 * random.Next(data.Length / 2);
                BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(Math.Min(offset, data.Length - 2)), (ushort)random.Next(65536));
                return data;
            default:
                random.NextBytes(data.AsSpan(4));
                return data;
        }
    }

    /// <summary>Ethernet, IPv4 and UDP around a payload, so that the replay finds it as it finds any export.</summary>
    private static byte[] Frame(byte[] payload)
    {
        var frame = new byte[14 + 20 + 8 + payload.Length];
        frame[12] = 0x08;
        frame[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(20 + 8 + payload.Length));
        frame[22] = 64;
        frame[23] = 17;
        frame[26] = 192;
        frame[28] = 2;
        frame[29] = 9;
        frame[30] = 192;
        frame[32] = 2;
        frame[33] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), 4739);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(38), (ushort)(8 + payload.Length));
        payload.CopyTo(frame, 42);
        return frame;
    }

    private static List<byte[]> Payloads(string name)
    {
        Assert.True(CaptureFile.TryOpen(OwnCaptures.Path(name), out var capture, out var error), error);
        var payloads = new List<byte[]>();
        using (capture)
        {
            while (capture!.TryReadNext(out var frame, out _, out _))
            {
                PacketHeaderParser.Parse(frame, capture.LinkType, out var header);
                if (header.Protocol == PacketHeaderParser.ProtocolUdp && header.HasTransport)
                {
                    payloads.Add(frame.Slice(header.PayloadOffset, header.PayloadLength).ToArray());
                }
            }
        }

        return payloads;
    }
}
