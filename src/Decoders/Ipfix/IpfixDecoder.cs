using System.Buffers.Binary;
using FlowCollector.Decoders.Exporters;
using FlowCollector.Decoders.Templates;

namespace FlowCollector.Decoders.Ipfix;

/// <summary>
/// IPFIX (RFC 7011): message header (§3.1), sets walked by length (§3.3), templates and options templates
/// (§3.4.1–3.4.2) with enterprise-specific fields (§3.2) and variable-length fields (§7), withdrawals (§8.1),
/// and the sequence number, which counts data records per observation domain (§3.1).
/// </summary>
internal static class IpfixDecoder
{
    public const ushort Version = 10;

    private const int HeaderLength = 16;
    private const int LengthOffset = 2;
    private const int ExportTimeOffset = 4;
    private const int SequenceOffset = 8;
    private const int DomainOffset = 12;
    private const int SetHeaderLength = 4;
    private const ushort TemplateSetId = 2;
    private const ushort OptionsTemplateSetId = 3;
    private const ushort MinimumDataSetId = 256;
    private const ushort EnterpriseBit = 0x8000;

    public static DecodeStatus Decode<TSink>(ReadOnlySpan<byte> datagram, ExporterState state, long receivedMilliseconds, ref TSink sink, int maxFieldsPerTemplate)
        where TSink : struct, IFlowSink
    {
        if (datagram.Length < HeaderLength)
        {
            return DecodeStatus.Truncated;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[LengthOffset..]);
        if (length < HeaderLength)
        {
            return DecodeStatus.BadLength;
        }

        if (length > datagram.Length)
        {
            return DecodeStatus.Truncated;
        }

        var message = datagram[..length];
        var exportSeconds = BinaryPrimitives.ReadUInt32BigEndian(message[ExportTimeOffset..]);
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(message[SequenceOffset..]);
        var domain = BinaryPrimitives.ReadUInt32BigEndian(message[DomainOffset..]);
        var context = new DataSetContext(ExportFormat.Ipfix, state.Address, domain, exportSeconds * 1000L, 0, hasSystemUptime: false);

        state.Pending.Expire(receivedMilliseconds, state.Statistics);
        var status = DecodeStatus.Ok;
        var dataRecords = 0;
        var dataRecordsKnown = true;
        var offset = HeaderLength;
        while (message.Length - offset >= SetHeaderLength)
        {
            var setId = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            var setLength = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            if (setLength < SetHeaderLength || setLength > message.Length - offset)
            {
                if (!DataSets.IsZero(message[offset..]))
                {
                    status = DataSets.Worst(status, DecodeStatus.BadSetLength);
                }

                break;
            }

            var body = message.Slice(offset + SetHeaderLength, setLength - SetHeaderLength);
            switch (setId)
            {
                case TemplateSetId:
                    status = DataSets.Worst(status, DecodeTemplates(body, isOptions: false, state, context, receivedMilliseconds, ref sink, maxFieldsPerTemplate));
                    break;
                case OptionsTemplateSetId:
                    status = DataSets.Worst(status, DecodeTemplates(body, isOptions: true, state, context, receivedMilliseconds, ref sink, maxFieldsPerTemplate));
                    break;
                case < MinimumDataSetId:
                    break;
                default:
                    var key = ExporterState.TemplateKey((byte)Version, domain, setId);
                    var template = state.FindTemplate(key, receivedMilliseconds);
                    if (template is null)
                    {
                        DataSets.Hold(state, key, setId, context, receivedMilliseconds, body);
                        status = DataSets.Worst(status, DecodeStatus.MissingTemplate);
                        dataRecordsKnown = false;
                    }
                    else
                    {
                        status = DataSets.Worst(status, DataSets.Decode(body, template, context, state, ref sink, out var records));
                        dataRecords += records;
                    }

                    break;
            }

            offset += setLength;
        }

        state.Sequences.Observe(state.Statistics, (byte)Version, domain, sequence, dataRecordsKnown ? (uint)dataRecords : null, null);
        return status;
    }

    /// <summary>
    /// Template set (ID 2) or options template set (ID 3). A record with field count 0 withdraws its template;
    /// template ID 2 (or 3) with field count 0 withdraws every data (or options) template of the domain.
    /// </summary>
    private static DecodeStatus DecodeTemplates<TSink>(ReadOnlySpan<byte> body, bool isOptions, ExporterState state, in DataSetContext context, long receivedMilliseconds, ref TSink sink, int maxFields)
        where TSink : struct, IFlowSink
    {
        var status = DecodeStatus.Ok;
        var offset = 0;
        var headerLength = isOptions ? 6 : 4;
        while (body.Length - offset >= 4)
        {
            var rest = body[offset..];
            if (DataSets.IsZero(rest))
            {
                break;
            }

            var templateId = BinaryPrimitives.ReadUInt16BigEndian(rest);
            var fieldCount = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            if (fieldCount == 0)
            {
                if (templateId == (isOptions ? OptionsTemplateSetId : TemplateSetId))
                {
                    state.WithdrawAll((byte)Version, context.Domain, isOptions);
                }
                else if (templateId >= MinimumDataSetId)
                {
                    state.Withdraw(ExporterState.TemplateKey((byte)Version, context.Domain, templateId));
                }
                else
                {
                    return DataSets.Worst(status, DecodeStatus.BadTemplate);
                }

                offset += 4;
                continue;
            }

            if (templateId < MinimumDataSetId || rest.Length < headerLength)
            {
                return DataSets.Worst(status, DecodeStatus.BadTemplate);
            }

            var scopeFieldCount = isOptions ? BinaryPrimitives.ReadUInt16BigEndian(rest[4..]) : 0;
            if (isOptions && (scopeFieldCount == 0 || scopeFieldCount > fieldCount))
            {
                return DataSets.Worst(status, DecodeStatus.BadTemplate);
            }

            if (!TryMeasure(rest, headerLength, fieldCount, out var recordLength))
            {
                return DataSets.Worst(status, DecodeStatus.BadTemplate);
            }

            var definition = rest[..recordLength];
            status = DataSets.Worst(status, Store(state, context, templateId, isOptions, definition, headerLength, fieldCount, receivedMilliseconds, ref sink, maxFields));
            offset += recordLength;
        }

        return status;
    }

    /// <summary>Length of a template record: each field specifier is 4 bytes, 8 with an enterprise number.</summary>
    private static bool TryMeasure(ReadOnlySpan<byte> record, int headerLength, int fieldCount, out int recordLength)
    {
        var position = headerLength;
        for (var i = 0; i < fieldCount; i++)
        {
            if (record.Length - position < 4)
            {
                recordLength = 0;
                return false;
            }

            var elementId = BinaryPrimitives.ReadUInt16BigEndian(record[position..]);
            position += (elementId & EnterpriseBit) != 0 ? 8 : 4;
            if (position > record.Length)
            {
                recordLength = 0;
                return false;
            }
        }

        recordLength = position;
        return true;
    }

    private static DecodeStatus Store<TSink>(
        ExporterState state,
        in DataSetContext context,
        ushort templateId,
        bool isOptions,
        ReadOnlySpan<byte> definition,
        int headerLength,
        int fieldCount,
        long receivedMilliseconds,
        ref TSink sink,
        int maxFields)
        where TSink : struct, IFlowSink
    {
        if (fieldCount > maxFields)
        {
            state.Statistics.TemplatesRejected++;
            return DecodeStatus.TemplateRejected;
        }

        var key = ExporterState.TemplateKey((byte)Version, context.Domain, templateId);
        if (!state.TryRefresh(key, definition, isOptions, receivedMilliseconds, out var needsCompile))
        {
            return DecodeStatus.TemplateRejected;
        }

        if (!needsCompile)
        {
            return DecodeStatus.Ok;
        }

        var fields = new TemplateField[fieldCount];
        var position = headerLength;
        for (var i = 0; i < fieldCount; i++)
        {
            var elementId = BinaryPrimitives.ReadUInt16BigEndian(definition[position..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(definition[(position + 2)..]);
            uint enterprise = 0;
            position += 4;
            if ((elementId & EnterpriseBit) != 0)
            {
                enterprise = BinaryPrimitives.ReadUInt32BigEndian(definition[position..]);
                elementId &= unchecked((ushort)~EnterpriseBit);
                position += 4;
            }

            fields[i] = new TemplateField(InformationElements.Classify(elementId, enterprise, length), length);
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
