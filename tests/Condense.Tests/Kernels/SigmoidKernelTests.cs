// The float-lane sigmoid and Swish (x · σ(αx)) against the formula in double on every kernel path: lengths with vector
// tails and sizes that split between threads, arguments far into both saturated ends, α other than 1; a ragged end has
// the lanes' bits, the thread count changes no bit, and σ keeps its limits at ±∞ and NaN.
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;
using Condense.Tensors;
using static Condense.Tests.Kernels.TransformerKernelsTests;

namespace Condense.Tests.Kernels;

public class SigmoidKernelTests
{
    private static float[] Apply(float[] x, float alpha, bool swish)
    {
        var y = new float[x.Length];
        if (swish) SigmoidKernel.ApplySwish(x, alpha, y);
        else SigmoidKernel.Apply(x, y);
        return y;
    }

    public static TheoryData<KernelPath, int, float, bool> Cases()
    {
        var data = new TheoryData<KernelPath, int, float, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (int n in new[] { 1, 7, 16, 37, 70_001 })
            {
                data.Add(path, n, 1f, false);
                data.Add(path, n, 1f, true);
                data.Add(path, n, 1.702f, true);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheDoubleFormula(KernelPath path, int length, float alpha, bool swish)
    {
        var x = Tensor.Uniform(new Rng((ulong)length), -30f, 30f, length).Data;
        x[0] = 0f;
        if (length > 6) (x[1], x[2], x[3], x[4], x[5]) = (-87.5f, -100f, 50f, 1e-6f, -3e-8f);
        using (Cpu.Force(path))
        {
            var y = WithThreads(2, () => Apply(x, alpha, swish));
            Assert.Equal(WithThreads(1, () => Apply(x, alpha, swish)), y);
            for (int i = 0; i < length; i++)
            {
                float expected = SigmoidKernel.Reference(x[i], alpha, swish);
                Assert.True(Math.Abs(y[i] - expected) <= 1e-6f * Math.Abs(expected) + 1e-37f, $"{x[i]}: {y[i]} vs {expected}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths), MemberType = typeof(TransformerKernelsTests))]
    public void ARaggedEndHasTheLanesBits(KernelPath path)
    {
        var x = Tensor.Uniform(new Rng(9), -8f, 8f, 48).Data;
        using (Cpu.Force(path))
            foreach (bool swish in new[] { false, true })
            {
                var whole = Apply(x, 1f, swish);
                Assert.Equal(whole[..37], Apply(x[..37], 1f, swish));
            }
    }

    [Theory]
    [MemberData(nameof(Paths), MemberType = typeof(TransformerKernelsTests))]
    public void KeepsTheLimits(KernelPath path)
    {
        var x = new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, -1000f, 1000f };
        using (Cpu.Force(path))
        {
            var sigmoid = Apply(x, 1f, swish: false);
            Assert.Equal([1f, 0f], sigmoid[..2]);
            Assert.True(float.IsNaN(sigmoid[2]));
            Assert.Equal([0f, 1f], sigmoid[3..]);
            var swish = Apply(x, 1f, swish: true);
            Assert.Equal(float.PositiveInfinity, swish[0]);
            Assert.True(float.IsNaN(swish[2]));
            Assert.Equal(0f, swish[3]);
            Assert.Equal(1000f, swish[4]);
        }
    }
}
