using System.Collections.Concurrent;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// Interface names (<c>eth0</c>, <c>veth-a</c>) as small numbers, so that keys stay unmanaged and hash fast.
/// Ids start above any plausible ifIndex range used with names; names are never forgotten (there are few).
/// </summary>
public sealed class InterfaceNames
{
    private const uint FirstId = 0x8000_0000;
    private const int MaxNames = 65_536;
    private readonly ConcurrentDictionary<string, uint> _ids = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, string> _names = new();
    private uint _next = FirstId;

    public uint Id(string name)
    {
        if (_ids.TryGetValue(name, out var id))
        {
            return id;
        }

        lock (_ids)
        {
            if (_ids.TryGetValue(name, out id))
            {
                return id;
            }

            if (_ids.Count >= MaxNames)
            {
                return 0;
            }

            id = _next++;
            _names[id] = name;
            _ids[name] = id;
            return id;
        }
    }

    /// <summary>The name of an id, or null when the id is an ifIndex.</summary>
    public string? NameOf(uint id) => _names.GetValueOrDefault(id);
}
