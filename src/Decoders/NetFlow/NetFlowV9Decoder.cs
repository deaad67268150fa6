using System.Buffers.Binary;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Decoders.Templates;

namespace FlowCollector.Decoders.NetFlow;

/// <summary>
/// NetFlow version 9 (RFC 3954). The header's count is not trusted: flowsets are walked by their lengths
/// (§5), flowset IDs 2–255 are skipped, templates (§5.2) and options templates (§6.1) are keyed by
/// (exporter, source ID, template ID), and data before its template is held, not guessed at.
/// </summary>
internal static class NetFlowV9Decoder
{
    public const ushort Version = 9;

    private const int HeaderLength = 20;
    private const int SysUptimeOffset = 4;
    private const int UnixSecondsOffset = 8;
    private const int SequenceOffset = 12;
    private const int SourceIdOffset = 16;
    private const int FlowSetHeaderLength = 4;
    private const ushort TemplateFlowSetId = 0;
    private const ushort OptionsTemplateFlowSetId = 1;
    private const ushort MinimumDataFlowSetId = 256;

    public static DecodeStatus Decode<TSink>(ReadOnlySpan<byte> datagram, ExporterState state, long receivedMilliseconds, ref TSink sink, int maxFieldsPerTemplate)
        where TSink : struct, IFlowSink
    {
        if (datagram.Length < HeaderLength)
        {
            return DecodeStatus.Truncated;
        }

        var uptime = BinaryPrimitives.ReadUInt32BigEndian(datagram[SysUptimeOffset..]);
        var unixSeconds = BinaryPrimitives.ReadUInt32BigEndian(datagram[UnixSecondsOffset..]);
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(datagram[SequenceOffset..]);
        var sourceId = BinaryPrimitives.ReadUInt32BigEndian(datagram[SourceIdOffset..]);
        var context = new DataSetContext(ExportFormat.NetFlowV9, state.Address, sourceId, unixSeconds * 1000L, uptime, hasSystemUptime: true);

        state.Pending.Expire(receivedMilliseconds, state.Statistics);
        var status = DecodeStatus.Ok;
        var offset = HeaderLength;
        while (datagram.Length - offset >= FlowSetHeaderLength)
        {
            var flowSetId = BinaryPrimitives.ReadUInt16BigEndian(datagram[offset..]);
            var flowSetLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[(offset + 2)..]);
            if (flowSetLength < FlowSetHeaderLength || flowSetLength > datagram.Length - offset)
            {
                // Some exporters zero-fill the datagram after the last flowset.
                if (!DataSets.IsZero(datagram[offset..]))
                {
                    status = DataSets.Worst(status, DecodeStatus.BadSetLength);
                }

                break;
            }

            var body = datagram.Slice(offset + FlowSetHeaderLength, flowSetLength - FlowSetHeaderLength);
            var setStatus = flowSetId switch
            {
                TemplateFlowSetId => DecodeTemplates(body, state, context, receivedMilliseconds, ref sink, maxFieldsPerTemplate),
                OptionsTemplateFlowSetId => DecodeOptionsTemplates(body, state, context, receivedMilliseconds, ref sink, maxFieldsPerTemplate),
                < MinimumDataFlowSetId => DecodeStatus.Ok,
                _ => DecodeData(body, flowSetId, state, context, receivedMilliseconds, ref sink),
            };
            status = DataSets.Worst(status, setStatus);
            offset += flowSetLength;
        }

        state.Sequences.Observe(state.Statistics, (byte)Version, sourceId, sequence, 1, uptime);
        return status;
    }

    private static DecodeStatus DecodeData<TSink>(ReadOnlySpan<byte> body, ushort templateId, ExporterState state, in DataSetContext context, long receivedMilliseconds, ref TSink sink)
        where TSink : struct, IFlowSink
    {
        var key = ExporterState.TemplateKey((byte)Version, context.Domain, templateId);
        var template = state.FindTemplate(key, receivedMilliseconds);
        if (template is null)
        {
            DataSets.Hold(state, key, templateId, context, receivedMilliseconds, body);
            return DecodeStatus.MissingTemplate;
        }

        return DataSets.Decode(body, template, context, state, ref sink, out _);
    }

    /// <summary>Template flowset (§5.2): template ID, field count, then (type, length) pairs.</summary>
    private static DecodeStatus DecodeTemplates<TSink>(ReadOnlySpan<byte> body, ExporterState state, in DataSetContext context, long receivedMilliseconds, ref TSink sink, int maxFields)
        where TSink : struct, IFlowSink
    {
        var status = DecodeStatus.Ok;
        var offset = 0;
        while (body.Length - offset >= 4)
        {
            var rest = body[offset..];
            var templateId = BinaryPrimitives.ReadUInt16BigEndian(rest);
            var fieldCount = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            if (templateId == 0 && DataSets.IsZero(rest))
            {
                break;
            }

            var recordLength = 4 + (fieldCount * 4);
            if (templateId < MinimumDataFlowSetId || recordLength > rest.Length)
            {
                return DataSets.Worst(status, DecodeStatus.BadTemplate);
            }

            var definition = rest[..recordLength];
            var fieldSpecs = definition[4..];
            status = DataSets.Worst(status, Store(state, context, templateId, isOptions: false, definition, fieldSpecs, scopeFieldCount: 0, receivedMilliseconds, ref sink, maxFields));
            offset += recordLength;
        }

        return status;
    }

    /// <summary>Options template flowset (§6.1): template ID, scope and option lengths in bytes, then the fields.</summary>
    private static DecodeStatus DecodeOptionsTemplates<TSink>(ReadOnlySpan<byte> body, ExporterState state, in DataSetContext context, long receivedMilliseconds, ref TSink sink, int maxFields)
        where TSink : struct, IFlowSink
    {
        var status = DecodeStatus.Ok;
        var offset = 0;
        while (body.Length - offset >= 6)
        {
            var rest = body[offset..];
            var templateId = BinaryPrimitives.ReadUInt16BigEndian(rest);
            var scopeLength = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            var optionLength = BinaryPrimitives.ReadUInt16BigEndian(rest[4..]);
            if (templateId == 0 && DataSets.IsZero(rest))
            {
                break;
            }

            var recordLength = 6 + scopeLength + optionLength;
            if (templateId < MinimumDataFlowSetId || scopeLength % 4 != 0 || optionLength % 4 != 0 || recordLength > rest.Length)
            {
                return DataSets.Worst(status, DecodeStatus.BadTemplate);
            }

            var definition = rest[..recordLength];
            status = DataSets.Worst(status, Store(state, context, templateId, isOptions: true, definition, definition[6..], scopeLength / 4, receivedMilliseconds, ref sink, maxFields));

            // Options templates are padded to a 4-byte boundary inside the flowset.
            offset += recordLength;
        }

        return status;
    }

    private static DecodeStatus Store<TSink>(
        ExporterState state,
        in DataSetContext context,
        ushort templateId,
        bool isOptions,
        ReadOnlySpan<byte> definition,
        ReadOnlySpan<byte> fieldSpecs,
        int scopeFieldCount,
        long receivedMilliseconds,
        ref TSink sink,
        int maxFields)
        where TSink : struct, IFlowSink
    {
        var key = ExporterState.TemplateKey((byte)Version, context.Domain, templateId);
        var fieldCount = fieldSpecs.Length / 4;
        if (fieldCount == 0)
        {
            // A template without fields describes nothing: treat it as a withdrawal, never store it.
            state.Withdraw(key);
            return DecodeStatus.Ok;
        }

        if (fieldCount > maxFields)
        {
            state.Statistics.TemplatesRejected++;
            return DecodeStatus.TemplateRejected;
        }

        if (!state.TryRefresh(key, definition, isOptions, receivedMilliseconds, out var needsCompile))
        {
            return DecodeStatus.TemplateRejected;
        }

        if (!needsCompile)
        {
            return DecodeStatus.Ok;
        }

        var fields = new TemplateField[fieldCount];
        for (var i = 0; i < fieldCount; i++)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(fieldSpecs[(i * 4)..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(fieldSpecs[((i * 4) + 2)..]);

            // v9 scope types (system, interface, line card, ...) are their own numbering, not information elements.
            var action = i < scopeFieldCount ? FieldAction.Skip : InformationElements.Classify(type, 0, length);
            fields[i] = new TemplateField(action, length);
        }

        var template = new Template(templateId, isOptions, fields, definition, receivedMilliseconds);
        if (template.MinimumRecordLength == 0)
        {
            state.Withdraw(key);
            return DecodeStatus.BadTemplate;
        }

        state.Store(key, template);
        DataSets.Release(state, key, template, context.Exporter, ref sink);
        return DecodeStatus.Ok;
    }
}
