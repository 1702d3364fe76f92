// VectorClamp (vmaxps/vminps with a repair of the one tie they get wrong) against Vector256.Max and Vector256.Min, the
// IEEE 754-2019 maximum and minimum the separate Relu and Clip ops use, bit for bit: every bound that needs or does not need
// the repair (±0, negative, positive, infinite: none), every special value (NaN, ±0, ±∞, subnormals), and the scalar form.
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;

namespace Condense.Tests.Kernels;

public class VectorClampTests
{
    private static readonly float[] Values =
    [
        float.NaN, 0f, -0f, 1f, -1f, 0.5f, -0.5f, 6f, 7f, -6f, float.PositiveInfinity, float.NegativeInfinity,
        float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, 1e-30f, -1e-30f,
    ];

    private static readonly float[] Bounds = [0f, -0f, 1f, -1f, 6f, -6f, 0.5f, float.Epsilon, -float.Epsilon];

    public static TheoryData<float, float> BoundPairs()
    {
        var data = new TheoryData<float, float>();
        foreach (float low in Bounds.Append(float.NegativeInfinity))
            foreach (float high in Bounds.Append(float.PositiveInfinity))
                data.Add(low, high);
        return data;
    }

    [Theory]
    [MemberData(nameof(BoundPairs))]
    public void TheClampHasTheBitsOfTheIeeeMaximumAndMinimum(float low, float high)
    {
        var clamp = new VectorClamp(low, high);
        Assert.Equal(low > float.NegativeInfinity, clamp.HasLow);
        Assert.Equal(high < float.PositiveInfinity, clamp.HasHigh);
        for (int start = 0; start < Values.Length; start += 8)
        {
            var lanes = new float[8];
            for (int i = 0; i < 8; i++) lanes[i] = Values[(start + i) % Values.Length];
            var v = Vector256.Create(lanes);
            var expected = v;
            if (clamp.HasLow) expected = Vector256.Max(expected, Vector256.Create(low));
            if (clamp.HasHigh) expected = Vector256.Min(expected, Vector256.Create(high));
            var actual = clamp.Apply(v);
            for (int i = 0; i < 8; i++)
            {
                float e = expected[i], a = actual[i];
                string what = $"clamp({lanes[i]:R}) to [{low:R}, {high:R}]";
                // A NaN stays NaN (its sign is not a value); everything else, −0 against +0 included, to the bit.
                if (float.IsNaN(e)) Assert.True(float.IsNaN(a), what);
                else Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(a), $"{what}: {e:R} expected, {a:R}");
                float scalar = clamp.Apply(lanes[i]);
                if (float.IsNaN(e)) Assert.True(float.IsNaN(scalar), what);
                else Assert.Equal(BitConverter.SingleToInt32Bits(e), BitConverter.SingleToInt32Bits(scalar));
            }
        }
    }

    [Fact]
    public void NoBoundsIsEmptyAndChangesNothing()
    {
        var clamp = new VectorClamp(float.NegativeInfinity, float.PositiveInfinity);
        Assert.True(clamp.IsEmpty);
        var v = Vector256.Create(-0f, float.NaN, 3f, -3f, 0f, float.PositiveInfinity, float.NegativeInfinity, 1e-40f);
        var r = clamp.Apply(v);
        for (int i = 0; i < 8; i++)
            Assert.True(BitConverter.SingleToInt32Bits(v[i]) == BitConverter.SingleToInt32Bits(r[i]) || float.IsNaN(v[i]));
    }
}
