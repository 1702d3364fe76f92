// The block copies of Slice and Split (Tensor.Strided with unit steps) against Take over IndexMaps.Strided — the
// definition, element by element — for float32, float64, int64 and bool, blocks that keep or cut the inner axes, and
// the float32 gradient; Where's row-by-row float path against its index-map form (the one autograd takes) under every
// broadcast of condition, x and y; constant padding by rows against its index-map form; Pow's x² and x³ against the
// powers in double.
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Tests.Tensors;

public class StridedAndWhereTests
{
    public static TheoryData<int[], int[], int[]> Blocks() => new()
    {
        { [2, 3, 8], [0, 1, 2], [2, 2, 5] },     // every axis cut: runs of 5
        { [2, 3, 8], [1, 0, 0], [1, 3, 8] },     // inner axes whole: one run of 24
        { [4, 6], [0, 2], [4, 3] },              // a Split's middle part along the last axis
        { [5, 2, 3], [2, 0, 0], [3, 2, 3] },     // a Split along the first axis
        { [3, 4, 5], [0, 1, 0], [3, 2, 5] },     // middle axis cut, last whole: runs of 10
        { [7], [3], [0] },                       // empty
    };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void UnitStepBlocksEqualTheIndexMap(int[] shape, int[] start, int[] count)
    {
        int size = Shape.Size(shape);
        var values = Enumerable.Range(0, size).Select(i => (long)(i * 7 % 13) - 4).ToArray();
        var step = Enumerable.Repeat(1, shape.Length).ToArray();
        var tensors = new[]
        {
            Tensor.FromInt64s(values, DataType.Int64, shape),
            Tensor.FromDoubles([.. values.Select(v => v * 3.0)], shape),
            Tensor.FromBools([.. values.Select(v => v > 0)], shape),
            new Tensor([.. values.Select(v => v * 0.25f)], shape),
        };
        foreach (var x in tensors)
        {
            var expected = x.Take(IndexMaps.Strided(shape, start, step, count), count);
            var actual = x.Strided(start, step, count);
            Assert.Equal(x.DataType, actual.DataType);
            Assert.Equal(count, actual.Shape);
            Assert.Equal(expected.ToInt64Values(), actual.ToInt64Values());
            if (x.DataType == DataType.Float32) Assert.Equal(expected.Data, actual.Data);
        }
        var weights = Tensor.Uniform(new Rng(3), -1f, 1f, count);
        var viaMap = new Tensor(tensors[3].Data.ToArray(), shape) { RequiresGrad = true };
        var viaBlocks = new Tensor(tensors[3].Data.ToArray(), shape) { RequiresGrad = true };
        viaMap.Take(IndexMaps.Strided(shape, start, step, count), count).Mul(weights).Sum().Backward();
        viaBlocks.Strided(start, step, count).Mul(weights).Sum().Backward();
        if (Shape.Size(count) > 0) Assert.Equal(viaMap.Grad!.Data, viaBlocks.Grad!.Data);
    }

    public static TheoryData<int[], int[], int[]> Broadcasts() => new()
    {
        { [1, 1, 4, 4], [2, 3, 4, 4], [] },       // a causal mask over scores, one fill value
        { [2, 3, 4, 4], [1], [2, 3, 4, 4] },
        { [4, 1], [1, 5], [4, 5] },
        { [5], [3, 5], [3, 1] },
        { [], [2, 2], [2, 2] },
    };

    [Theory]
    [MemberData(nameof(Broadcasts))]
    public void WhereOnFloatsEqualsItsIndexMapForm(int[] conditionShape, int[] xShape, int[] yShape)
    {
        var condition = Tensor.FromBools([.. Enumerable.Range(0, Shape.Size(conditionShape)).Select(i => i % 3 != 1)], conditionShape);
        var x = Tensor.Uniform(new Rng(1), -2f, 2f, xShape);
        var y = Tensor.Uniform(new Rng(2), 5f, 6f, yShape);
        Tensor fast;
        using (GradMode.NoGrad()) fast = Tensor.Where(condition, x, y);
        x.RequiresGrad = true;
        var byMap = Tensor.Where(condition, x, y);
        Assert.Equal(byMap.Shape, fast.Shape);
        Assert.Equal(byMap.Data, fast.Data);
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 0, 3, 1 })]
    [InlineData(new[] { 1, 0, 0, 0, 0, 2 })]
    [InlineData(new[] { 0, 0, 0, 0, 0, 0 })]
    public void ConstantPaddingByRowsEqualsItsIndexMapForm(int[] pads)
    {
        var x = Tensor.Uniform(new Rng(5), -1f, 1f, 2, 3, 4);
        Tensor rows;
        using (GradMode.NoGrad()) rows = x.Pad(pads, PadMode.Constant, 0.5f);
        x.RequiresGrad = true;
        var byMap = x.Pad(pads, PadMode.Constant, 0.5f);
        Assert.Equal(byMap.Shape, rows.Shape);
        Assert.Equal(byMap.Data, rows.Data);
    }

    [Theory]
    [InlineData(2f)]
    [InlineData(3f)]
    public void SmallIntegerPowersAreProducts(float exponent)
    {
        var x = Tensor.Uniform(new Rng(4), -30f, 30f, 1001);
        x.Data[0] = 0f;
        x.Data[1] = float.NaN;
        Tensor y;
        using (GradMode.NoGrad()) y = x.Pow(exponent);
        Assert.True(float.IsNaN(y.Data[1]));
        for (int i = 2; i < x.Size; i++)
        {
            double expected = Math.Pow(x.Data[i], exponent);
            Assert.True(Math.Abs(y.Data[i] - expected) <= 2.4e-7 * Math.Abs(expected), $"{x.Data[i]}: {y.Data[i]} vs {expected}");
        }
        Assert.Equal(0f, y.Data[0]);
    }
}
