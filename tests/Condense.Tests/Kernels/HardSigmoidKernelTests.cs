// The one-pass HardSigmoid and hard-swish against the passes they replace, as an independent oracle: .NET's
// TensorPrimitives product, sum, min and max (and the product by x), bit for bit, on every kernel path, with lengths
// that leave vector tails and split between threads; values at and past both ends of the gate's ramp, ±0, ±∞ and NaN;
// MobileNetV3's α = 1/6 and HardSigmoid's default 0.2.
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;
using Condense.Tensors;
using static Condense.Tests.Kernels.TransformerKernelsTests;

namespace Condense.Tests.Kernels;

public class HardSigmoidKernelTests
{
    public static TheoryData<KernelPath, int, float, bool> Cases()
    {
        var data = new TheoryData<KernelPath, int, float, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (int n in new[] { 1, 7, 16, 37, 70_001 })
                foreach (bool swish in new[] { false, true })
                {
                    data.Add(path, n, 1f / 6, swish);
                    data.Add(path, n, 0.2f, swish);
                }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GivesTheBitsOfTheSeparatePasses(KernelPath path, int length, float alpha, bool swish)
    {
        var x = Tensor.Uniform(new Rng((ulong)length), -8f, 8f, length).Data;
        float[] special = [0f, -0f, 3f, -3f, 2.5f, -2.5f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-30f, -1e-30f];
        special.AsSpan(0, Math.Min(length, special.Length)).CopyTo(x);
        var expected = new float[length];
        TensorPrimitives.Multiply(x, alpha, expected);
        TensorPrimitives.Add(expected, 0.5f, expected);
        TensorPrimitives.Min(expected, 1f, expected);
        TensorPrimitives.Max(expected, 0f, expected);
        if (swish) TensorPrimitives.Multiply(x, expected, expected);
        using (Cpu.Force(path))
            foreach (int threads in new[] { 1, 2 })
            {
                var y = WithThreads(threads, () =>
                {
                    var y = new float[length];
                    if (swish) HardSigmoidKernel.ApplySwish(x, alpha, 0.5f, y);
                    else HardSigmoidKernel.Apply(x, alpha, 0.5f, y);
                    return y;
                });
                for (int i = 0; i < length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(y[i]),
                        $"{path}, {threads} threads: x = {x[i]:R}: {y[i]:R}, the passes {expected[i]:R}");
            }
    }
}
