using System.Buffers;

namespace FlowCollector.Decoders.Exporters;

/// <summary>
/// Data sets that arrived before their template (RFC 3954 §9 asks collectors to keep them), held in pooled
/// buffers for a short time and bounded in count and bytes, per exporter and (through the table) over all of them.
/// The oldest set makes room for a newer one of the same exporter; when all exporters together hold their budget,
/// a new set is dropped.
/// </summary>
internal sealed class PendingDataSets
{
    private readonly int _maxSets;
    private readonly int _maxBytes;
    private readonly long _lifetimeMilliseconds;
    private readonly ExporterTable _table;
    private PendingDataSet[] _sets = [];
    private int _count;
    private int _bytes;

    public PendingDataSets(int maxSets, int maxBytes, TimeSpan lifetime, ExporterTable table)
    {
        _maxSets = maxSets;
        _maxBytes = maxBytes;
        _lifetimeMilliseconds = (long)lifetime.TotalMilliseconds;
        _table = table;
    }

    public int Count => _count;

    public bool Add(in PendingContext context, ReadOnlySpan<byte> setBody, ExporterStatistics statistics)
    {
        if (_maxSets == 0 || setBody.Length > _maxBytes)
        {
            statistics.DataSetsDropped++;
            return false;
        }

        while (_count > 0 && (_count == _maxSets || _bytes + setBody.Length > _maxBytes))
        {
            RemoveAt(0);
            statistics.DataSetsDropped++;
        }

        if (_count == _sets.Length)
        {
            // Grown as needed: thousands of exporters that each held one early set must not each keep room for 64.
            Array.Resize(ref _sets, Math.Min(_maxSets, Math.Max(4, _sets.Length * 2)));
        }

        var buffer = ArrayPool<byte>.Shared.Rent(setBody.Length);
        if (!_table.TryReservePending(buffer.Length))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            statistics.DataSetsDropped++;
            return false;
        }

        setBody.CopyTo(buffer);
        _sets[_count++] = new PendingDataSet(context, buffer, setBody.Length);
        _bytes += setBody.Length;
        statistics.DataSetsHeld++;
        return true;
    }

    /// <summary>Drops the sets held longer than the lifetime.</summary>
    public void Expire(long nowMilliseconds, ExporterStatistics statistics)
    {
        while (_count > 0 && nowMilliseconds - _sets[0].Context.ReceivedMilliseconds > _lifetimeMilliseconds)
        {
            RemoveAt(0);
            statistics.DataSetsDropped++;
        }
    }

    /// <summary>Index of the oldest held set of the template, or -1.</summary>
    public int IndexOf(ulong templateKey)
    {
        for (var index = 0; index < _count; index++)
        {
            if (_sets[index].Context.TemplateKey == templateKey)
            {
                return index;
            }
        }

        return -1;
    }

    public PendingContext ContextAt(int index) => _sets[index].Context;

    public ReadOnlySpan<byte> BodyAt(int index) => _sets[index].Buffer.AsSpan(0, _sets[index].Length);

    public void Clear()
    {
        while (_count > 0)
        {
            RemoveAt(0);
        }
    }

    public void RemoveAt(int index)
    {
        var set = _sets[index];
        _table.ReleasePending(set.Buffer.Length);
        ArrayPool<byte>.Shared.Return(set.Buffer);
        _bytes -= set.Length;
        Array.Copy(_sets, index + 1, _sets, index, _count - index - 1);
        _count--;
        _sets[_count] = default;
    }

    private readonly record struct PendingDataSet(PendingContext Context, byte[] Buffer, int Length);
}

/// <summary>What decoding a held data set needs to know about the datagram it came in.</summary>
internal readonly record struct PendingContext(
    ulong TemplateKey,
    ExportFormat Format,
    uint Domain,
    ushort TemplateId,
    long ReceivedMilliseconds,
    long ExportMilliseconds,
    uint SystemUptimeMilliseconds);
