using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlowCollector.Detection.Rates;

/// <summary>
/// The heaviest items of a stream in eight fixed slots (the space-saving algorithm of Metwally et al.): an item
/// heavier than a share of 1/8 of the total is always kept, and its weight is overestimated by at most the
/// smallest slot's. A struct of fixed size: counting allocates nothing.
/// </summary>
public struct TopItems<T>
    where T : unmanaged, IEquatable<T>
{
    /// <summary>Slots; <see cref="IndexOfLightest"/> reads exactly eight weights.</summary>
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

        // Spans over the inline arrays: one bounds check per loop instead of one per element access.
        Span<T> items = _items;
        Span<double> weights = _weights;
        var count = _count;
        var found = IndexOf(items, count, item);
        if (found >= 0)
        {
            weights[found] += weight;
            return;
        }

        if (count < Capacity)
        {
            items[count] = item;
            weights[count] = weight;
            _count = count + 1;
            return;
        }

        // Space-saving: the newcomer takes the lightest slot and inherits its weight as possible error. Under a
        // spoofed flood every record is a newcomer, so the lightest slot is found without branches.
        var smallest = IndexOfLightest(weights, out var lightest);
        items[smallest] = item;
        weights[smallest] = lightest + weight;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOf(Span<T> items, int count, T item)
    {
        if (typeof(T) == typeof(uint))
        {
            // Source ports: all eight slots compared at once (slots past the count are masked off).
            var slots = Vector256.LoadUnsafe(ref Unsafe.As<T, uint>(ref MemoryMarshal.GetReference(items)));
            var matches = Vector256.Equals(slots, Vector256.Create(Unsafe.As<T, uint>(ref item))).ExtractMostSignificantBits()
                & ((1u << count) - 1);
            return matches == 0 ? -1 : BitOperations.TrailingZeroCount(matches);
        }

        for (var i = 0; i < count; i++)
        {
            if (items[i].Equals(item))
            {
                return i;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOfLightest(Span<double> weights, out double lightest)
    {
        ref var first = ref MemoryMarshal.GetReference(weights);
        var a = Vector128.LoadUnsafe(ref first, 0);
        var b = Vector128.LoadUnsafe(ref first, 2);
        var c = Vector128.LoadUnsafe(ref first, 4);
        var d = Vector128.LoadUnsafe(ref first, 6);
        var pairs = Vector128.MinNative(Vector128.MinNative(a, b), Vector128.MinNative(c, d));
        lightest = pairs.GetElement(0) < pairs.GetElement(1) ? pairs.GetElement(0) : pairs.GetElement(1);
        var target = Vector128.Create(lightest);
        var mask = Vector128.Equals(a, target).ExtractMostSignificantBits()
            | (Vector128.Equals(b, target).ExtractMostSignificantBits() << 2)
            | (Vector128.Equals(c, target).ExtractMostSignificantBits() << 4)
            | (Vector128.Equals(d, target).ExtractMostSignificantBits() << 6);
        return BitOperations.TrailingZeroCount(mask);
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
