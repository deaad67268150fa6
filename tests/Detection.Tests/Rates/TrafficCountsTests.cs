using System.Reflection;
using System.Runtime.CompilerServices;
using FlowCollector.Detection.Rates;

namespace FlowCollector.Detection.Tests.Rates;

public sealed class TrafficCountsTests
{
    private static readonly FieldInfo[] Fields = typeof(TrafficCounts).GetFields(BindingFlags.Public | BindingFlags.Instance);

    [Fact]
    public void Add_Vectorised_CoversExactlyTheDeclaredFields()
    {
        // The vector addition walks TrafficCounts.Fields doubles: a field added without updating it would be
        // skipped, or the addition would read past the struct.
        Assert.Equal(TrafficCounts.Fields, Fields.Length);
        Assert.Equal(TrafficCounts.Fields * sizeof(double), Unsafe.SizeOf<TrafficCounts>());
        Assert.All(Fields, field => Assert.Equal(typeof(double), field.FieldType));
    }

    [Fact]
    public void Add_Scaled_SumsEveryField()
    {
        object left = default(TrafficCounts);
        object right = default(TrafficCounts);
        for (var i = 0; i < Fields.Length; i++)
        {
            Fields[i].SetValue(left, (double)(i + 1));
            Fields[i].SetValue(right, (double)(100 * (i + 1)));
        }

        var sum = (TrafficCounts)left;
        sum.Add((TrafficCounts)right, 0.5);

        for (var i = 0; i < Fields.Length; i++)
        {
            Assert.Equal(51.0 * (i + 1), (double)Fields[i].GetValue(sum)!);
        }
    }
}
