namespace FlowCollector.Decoders.Templates;

/// <summary>
/// A data or options template compiled into a field plan: one action and wire length per field, so that
/// each record is read in one pass without looking anything up.
/// </summary>
internal sealed class Template
{
    private readonly byte[] _definition;

    /// <summary>
    /// What a template costs beyond its definition, fields and read steps: the template and its layout (objects
    /// and array headers).
    /// </summary>
    private const int Overhead = 192;

    public Template(ushort id, bool isOptions, TemplateField[] fields, ReadOnlySpan<byte> definition, long refreshedMilliseconds)
    {
        Id = id;
        MemoryBytes = EstimateBytes(definition.Length, fields.Length);
        IsOptions = isOptions;
        Fields = fields;
        _definition = definition.ToArray();
        RefreshedMilliseconds = refreshedMilliseconds;
        var steps = new List<ReadStep>(fields.Length);
        foreach (var field in fields)
        {
            if (field.IsVariable)
            {
                VariableFieldCount++;
                continue;
            }

            if (field.Action != FieldAction.Skip && VariableFieldCount == 0)
            {
                steps.Add(new ReadStep(field.Action, (ushort)FixedLength, field.Length));
            }

            FixedLength += field.Length;
        }

        Layout = VariableFieldCount == 0 ? FixedLayout.Of([.. steps]) : null;
    }

    public ushort Id { get; }

    public bool IsOptions { get; }

    public TemplateField[] Fields { get; }

    /// <summary>
    /// For a template without variable-length fields (nearly every NetFlow v9 and most IPFIX templates), where its
    /// fields lie: the record's bounds are checked once and skipped fields cost nothing. Null when some field's
    /// position depends on the record.
    /// </summary>
    public FixedLayout? Layout { get; }

    /// <summary>Bytes of the fixed-length fields.</summary>
    public int FixedLength { get; }

    public int VariableFieldCount { get; }

    /// <summary>The shortest record this template can describe: every variable field takes at least its 1-byte length.</summary>
    public int MinimumRecordLength => FixedLength + VariableFieldCount;

    public long RefreshedMilliseconds { get; set; }

    /// <summary>The memory this template holds, for the caches' byte budgets.</summary>
    public int MemoryBytes { get; }

    /// <summary>
    /// What a template of a definition this long holds (at most one field per 4 bytes of definition), counting a
    /// read step of its fixed layout for every field: at most that, so the check before compiling is never short.
    /// </summary>
    public static int EstimateBytes(int definitionLength, int fields = -1) =>
        Overhead + definitionLength + ((fields < 0 ? (definitionLength / 4) + 1 : fields)
            * (System.Runtime.CompilerServices.Unsafe.SizeOf<TemplateField>() + System.Runtime.CompilerServices.Unsafe.SizeOf<ReadStep>()));

    /// <summary>True when the wire definition is byte-for-byte the one this template was compiled from.</summary>
    public bool HasDefinition(ReadOnlySpan<byte> definition, bool isOptions) =>
        isOptions == IsOptions && definition.SequenceEqual(_definition);
}

/// <summary>One field a fixed-layout record is read for: what to do with it, where it starts, how long it is.</summary>
internal readonly record struct ReadStep(FieldAction Action, ushort Offset, ushort Length);
