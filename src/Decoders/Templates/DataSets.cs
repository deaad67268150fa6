using System.Runtime.InteropServices;
using FlowCollector.Decoders.Exporters;

namespace FlowCollector.Decoders.Templates;

/// <summary>Data-set handling shared by NetFlow v9 and IPFIX: decode with a template, hold early sets, release them.</summary>
internal static class DataSets
{
    /// <summary>
    /// Decodes the records of one data set. The loop advances by at least one byte per record (templates with a
    /// zero minimum length are never stored), and stops when fewer bytes remain than the shortest record:
    /// that remainder is padding, as are records of only zeros.
    /// </summary>
    public static DecodeStatus Decode<TSink>(ReadOnlySpan<byte> body, Template template, in DataSetContext context, ExporterState state, ref TSink sink, out int records)
        where TSink : struct, IFlowSink
    {
        records = 0;
        var offset = 0;
        var minimum = template.MinimumRecordLength;
        RecordValues values = default;
        while (body.Length - offset >= minimum)
        {
            values = default;
            var start = offset;
            if (!TemplateRecordReader.TryRead(body, ref offset, template, ref values))
            {
                return IsZero(body[offset..]) ? DecodeStatus.Ok : DecodeStatus.BadRecord;
            }

            // Exporters that pad with more than a record's worth of zeros: a record of only zeros is padding.
            if (IsZero(body[start..offset]))
            {
                continue;
            }

            records++;
            if (template.IsOptions)
            {
                TemplateRecordReader.ApplyOptions(ref values, context, state);
            }
            else
            {
                TemplateRecordReader.Deliver(ref values, context, state, ref sink);
            }
        }

        return DecodeStatus.Ok;
    }

    /// <summary>Holds a data set whose template is unknown until the template comes or its time runs out.</summary>
    public static void Hold(ExporterState state, ulong templateKey, ushort templateId, in DataSetContext context, long receivedMilliseconds, ReadOnlySpan<byte> body)
    {
        var pending = new PendingContext(
            templateKey,
            context.Format,
            context.Domain,
            templateId,
            receivedMilliseconds,
            context.ExportMilliseconds,
            context.SystemUptimeMilliseconds);
        state.Pending.Add(pending, body, state.Statistics);
    }

    /// <summary>Decodes the held data sets that were waiting for this template.</summary>
    public static void Release<TSink>(ExporterState state, ulong templateKey, Template template, NetworkAddress exporter, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        if (state.Pending.Count == 0 || template.MinimumRecordLength == 0)
        {
            return;
        }

        int index;
        while ((index = state.Pending.IndexOf(templateKey)) >= 0)
        {
            var held = state.Pending.ContextAt(index);
            var context = new DataSetContext(
                held.Format,
                exporter,
                held.Domain,
                held.ExportMilliseconds,
                held.SystemUptimeMilliseconds,
                held.Format == ExportFormat.NetFlowV9);
            Decode(state.Pending.BodyAt(index), template, context, state, ref sink, out _);
            state.Statistics.DataSetsDecodedLate++;
            state.Pending.RemoveAt(index);
        }
    }

    /// <summary>True when every byte is zero. Records almost always differ from zero in their first bytes, looked at first.</summary>
    public static bool IsZero(ReadOnlySpan<byte> bytes) =>
        (bytes.Length < sizeof(ulong) || MemoryMarshal.Read<ulong>(bytes) == 0) && !bytes.ContainsAnyExcept((byte)0);

    /// <summary>The more serious of two outcomes: structural damage outranks a missing template, which outranks Ok.</summary>
    public static DecodeStatus Worst(DecodeStatus current, DecodeStatus next) =>
        Rank(next) > Rank(current) ? next : current;

    private static int Rank(DecodeStatus status) => status switch
    {
        DecodeStatus.Ok => 0,
        DecodeStatus.MissingTemplate => 1,
        DecodeStatus.TemplateRejected => 2,
        DecodeStatus.BadRecord => 3,
        DecodeStatus.BadTemplate => 4,
        _ => 5,
    };
}
