using System.Runtime.CompilerServices;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// The heaviest items of a stream in eight fixed slots (the space-saving algorithm of Metwally et al.): an item
/// heavier than a share of 1/8 of the total is always kept, and its weight is overestimated by at most the
/// smallest slot's. A struct of fixed size: counting allocates nothing.
/// </summary>
public struct TopItems<T>
    where T : unmanaged, IEquatable<T>
{
    public const int Capacity = 8;

    private ItemSlots _items;
    private WeightSlots _weights;
    private int _count;

    public readonly int Count => _count;

    public readonly T ItemAt(int index) => _items[index];

    public readonly double WeightAt(int index) => _weights[index];

    public void Add(T item, double weight)
    {
        if (weight <= 0)
        {
            return;
        }

        var smallest = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_items[i].Equals(item))
            {
                _weights[i] += weight;
                return;
            }

            if (_weights[i] < _weights[smallest])
            {
                smallest = i;
            }
        }

        if (_count < Capacity)
        {
            _items[_count] = item;
            _weights[_count] = weight;
            _count++;
            return;
        }

        // Space-saving: the newcomer takes the lightest slot and inherits its weight as possible error.
        _items[smallest] = item;
        _weights[smallest] += weight;
    }

    public void Merge(in TopItems<T> other)
    {
        for (var i = 0; i < other._count; i++)
        {
            Add(other._items[i], other._weights[i]);
        }
    }

    public void Clear() => _count = 0;

    /// <summary>The heaviest item and its weight; false when empty.</summary>
    public readonly bool TryGetTop(out T item, out double weight)
    {
        item = default;
        weight = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_weights[i] > weight)
            {
                item = _items[i];
                weight = _weights[i];
            }
        }

        return _count > 0;
    }

    /// <summary>The items by weight, heaviest first.</summary>
    public readonly (T Item, double Weight)[] ToSortedArray()
    {
        var result = new (T Item, double Weight)[_count];
        for (var i = 0; i < _count; i++)
        {
            result[i] = (_items[i], _weights[i]);
        }

        Array.Sort(result, static (a, b) => b.Weight.CompareTo(a.Weight));
        return result;
    }

    [InlineArray(Capacity)]
    private struct ItemSlots
    {
        private T _element;
    }

    [InlineArray(Capacity)]
    private struct WeightSlots
    {
        private double _element;
    }
}
