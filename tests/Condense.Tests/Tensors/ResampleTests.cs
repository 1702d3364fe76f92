// Tensor.Resample on float32 (the arrays read directly: rows copied for nearest maps, taps summed in double) gives the bits
// of the same map on the float64 copy rounded once to float32 — the general path's arithmetic — along every axis, for
// nearest, two-tap (linear) and four-tap (cubic) maps with random sources and weights.
using Condense.Tensors;

namespace Condense.Tests.Tensors;

public sealed class ResampleTests
{
    private static ResampleMap RandomMap(Rng rng, int sourceLength, int length, int taps)
    {
        var indices = new int[length * taps];
        var weights = new double[length * taps];
        for (int k = 0; k < indices.Length; k++)
        {
            indices[k] = rng.NextInt(sourceLength);
            weights[k] = taps == 1 ? 1.0 : rng.NextNormal();
        }
        return new ResampleMap(length, taps, indices, weights);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Float32ResamplingRoundsTheFloat64Sums(int taps)
    {
        var rng = new Rng(21);
        var x = Tensor.Uniform(rng, -3f, 3f, 2, 3, 5, 7);
        var wide = Tensor.FromDoubles([.. x.Data.Select(v => (double)v)], x.Shape);
        for (int axis = 0; axis < x.Rank; axis++)
        {
            var map = RandomMap(rng, x.Shape[axis], 2 * x.Shape[axis] + 1, taps);
            var y = x.Resample(axis, map);
            var expected = wide.Resample(axis, map);
            Assert.Equal(expected.Shape, y.Shape);
            for (int i = 0; i < y.Size; i++)
                Assert.True(BitConverter.SingleToInt32Bits((float)expected.GetDouble(i)) == BitConverter.SingleToInt32Bits(y.Data[i]),
                    $"axis {axis}, taps {taps}, element {i}: {y.Data[i]:R} vs {(float)expected.GetDouble(i):R}");
        }
    }
}
