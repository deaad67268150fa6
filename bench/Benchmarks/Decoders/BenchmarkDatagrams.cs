using System.Buffers.Binary;

namespace FlowCollector.Benchmarks.Decoders;

/// <summary>Full-size export datagrams like routers send them, built once for the benchmarks.</summary>
internal static class BenchmarkDatagrams
{
    /// <summary>Fields of a typical Cisco IPv4 NetFlow v9 / IPFIX template (45 bytes per record).</summary>
    private static readonly (ushort Type, ushort Length)[] RouterTemplate =
    [
        (8, 4), (12, 4), (15, 4), (7, 2), (11, 2), (4, 1), (5, 1), (6, 1), (10, 4), (14, 4),
        (2, 4), (1, 4), (22, 4), (21, 4), (16, 2), (17, 2), (61, 1), (48, 1),
    ];

    public const int V9Records = 30;
    public const int IpfixRecords = 30;
    public const int V5Records = 30;

    public static byte[] NetFlowV5()
    {
        var datagram = new byte[24 + (48 * V5Records)];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, 5);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), V5Records);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), 3_600_000);
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), 1_700_000_000);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(22), 0x4064);
        for (var i = 0; i < V5Records; i++)
        {
            var record = datagram.AsSpan(24 + (48 * i), 48);
            BinaryPrimitives.WriteUInt32BigEndian(record, 0xC0000200u + (uint)i);
            BinaryPrimitives.WriteUInt32BigEndian(record[4..], 0xC6336400u + (uint)i);
            BinaryPrimitives.WriteUInt16BigEndian(record[12..], 1);
            BinaryPrimitives.WriteUInt16BigEndian(record[14..], 2);
            BinaryPrimitives.WriteUInt32BigEndian(record[16..], 10);
            BinaryPrimitives.WriteUInt32BigEndian(record[20..], 15_000);
            BinaryPrimitives.WriteUInt32BigEndian(record[24..], 3_590_000);
            BinaryPrimitives.WriteUInt32BigEndian(record[28..], 3_599_000);
            BinaryPrimitives.WriteUInt16BigEndian(record[32..], (ushort)(40_000 + i));
            BinaryPrimitives.WriteUInt16BigEndian(record[34..], 443);
            record[37] = 0x18;
            record[38] = 6;
        }

        return datagram;
    }

    public static byte[] NetFlowV9Template() => Header(9, TemplateSet(0, 256));

    public static byte[] NetFlowV9Data() => Header(9, DataSet(256, V9Records));

    public static byte[] IpfixTemplate() => Header(10, TemplateSet(2, 256));

    public static byte[] IpfixData() => Header(10, DataSet(256, IpfixRecords));

    private static byte[] TemplateSet(ushort setId, ushort templateId)
    {
        var body = new byte[4 + 4 + (RouterTemplate.Length * 4)];
        BinaryPrimitives.WriteUInt16BigEndian(body, setId);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)body.Length);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(4), templateId);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(6), (ushort)RouterTemplate.Length);
        for (var i = 0; i < RouterTemplate.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(8 + (i * 4)), RouterTemplate[i].Type);
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(10 + (i * 4)), RouterTemplate[i].Length);
        }

        return body;
    }

    private static byte[] DataSet(ushort templateId, int records)
    {
        var recordLength = RouterTemplate.Sum(f => f.Length);
        var length = 4 + (recordLength * records);
        var padded = (length + 3) & ~3;
        var set = new byte[padded];
        BinaryPrimitives.WriteUInt16BigEndian(set, templateId);
        BinaryPrimitives.WriteUInt16BigEndian(set.AsSpan(2), (ushort)padded);
        var random = new Random(7);
        for (var r = 0; r < records; r++)
        {
            var record = set.AsSpan(4 + (r * recordLength), recordLength);
            random.NextBytes(record);
            BinaryPrimitives.WriteUInt32BigEndian(record[20..], 3_590_000);
        }

        return set;
    }

    private static byte[] Header(ushort version, byte[] sets)
    {
        var headerLength = version == 9 ? 20 : 16;
        var datagram = new byte[headerLength + sets.Length];
        BinaryPrimitives.WriteUInt16BigEndian(datagram, version);
        if (version == 9)
        {
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), V9Records);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), 3_600_000);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(8), 1_700_000_000);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)datagram.Length);
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), 1_700_000_000);
        }

        sets.CopyTo(datagram, headerLength);
        return datagram;
    }
}
