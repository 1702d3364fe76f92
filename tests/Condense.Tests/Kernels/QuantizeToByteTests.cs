// The vector input quantization of the integer engine (QuantizeLinear.QuantizeToByte: 8-lane AVX, 16-lane
// AVX-512 with a reciprocal product that falls back to the division near ties) against the scalar formula,
// value by value, on the inputs where a product by 1/scale and the division can round differently: values
// whose quotient is a half-integer or one float step either side of one, for scales whose reciprocal is
// inexact, plus random values, a subnormal scale (infinite reciprocal) and special values. The same values check the
// quantize-then-dequantize round trip of a QDQ pair (QuantizeLinear.RoundTrip), bit for bit, and the graph's fused
// QuantizeDequantizeLinear op, which splits a large tensor between threads, against the same formula.
using Condense.Graph;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class QuantizeToByteTests
{
    private static float[] NearTies(float scale, Rng rng)
    {
        var x = new List<float>();
        for (int j = -40; j < 300; j++)
        {
            float tie = (j + 0.5f) * scale;
            x.AddRange([tie, MathF.BitIncrement(tie), MathF.BitDecrement(tie), MathF.BitIncrement(MathF.BitIncrement(tie)), j * scale]);
        }
        for (int i = 0; i < 500; i++) x.Add((rng.NextFloat() * 300f - 20f) * scale);
        x.AddRange([0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, float.Epsilon, 1e-30f]);
        return x.ToArray();   // 2,218 values: not a multiple of 16, so the scalar tail runs too
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(1f / 3f)]
    [InlineData(0.0073f)]
    [InlineData(0.0392157f)]   // ≈ 1/25.5, a typical post-ReLU activation scale
    [InlineData(3f)]
    [InlineData(1e-40f)]       // subnormal: 1/scale is infinite, the division must be used throughout
    [InlineData(1e30f)]
    public void EveryPathMatchesTheScalarFormula(float scale)
    {
        var x = NearTies(scale, new Rng(11));
        foreach (var path in Cpu.SupportedPaths)
            foreach (byte z in new byte[] { 0, 3, 128, 255 })
            {
                var q = new byte[x.Length];
                using (Cpu.Force(path)) QuantizeLinear.QuantizeToByte(x, scale, z, q);
                for (int i = 0; i < x.Length; i++)
                    Assert.True(QuantizeLinear.Quantize(x[i], scale, z, 0, 255) == q[i],
                        $"{path}: x = {x[i]:R}, scale {scale:R}, z {z}: {q[i]}, scalar {QuantizeLinear.Quantize(x[i], scale, z, 0, 255)}");
            }
    }

    [Fact]
    public void ThreadedQuantizationMatchesTheScalarFormula()
    {
        // 40 copies of the near-tie values (88,720, above the threading threshold, not a multiple of 64).
        const float scale = 0.0392157f;
        var one = NearTies(scale, new Rng(12));
        var x = Enumerable.Repeat(one, 40).SelectMany(v => v).ToArray();
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var path in Cpu.SupportedPaths)
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    var q = new byte[x.Length];
                    using (Cpu.Force(path)) QuantizeLinear.QuantizeToByteParallel(x, scale, 7, q);
                    for (int i = 0; i < x.Length; i++)
                        Assert.True(QuantizeLinear.Quantize(x[i], scale, 7, 0, 255) == q[i], $"{path}, {threads} threads: x[{i}] = {x[i]:R} gave {q[i]}");
                }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [InlineData(0.1f, 128, 0, 255)]
    [InlineData(0.0392157f, 0, 0, 255)]
    [InlineData(1f / 3f, -3, -128, 127)]    // int8 codes
    [InlineData(0.0073f, 2, 0, 15)]         // a narrower range (4-bit QAT's qmin/qmax)
    [InlineData(1e-40f, 0, -128, 127)]
    public void TheRoundTripOfEveryPathIsQuantizeThenDequantize(float scale, int zeroPoint, int qMin, int qMax)
    {
        var x = NearTies(scale, new Rng(13)).Select(v => v - 150 * scale).ToArray();
        foreach (var path in Cpu.SupportedPaths)
        {
            var y = new float[x.Length];
            using (Cpu.Force(path)) QuantizeLinear.RoundTrip(x, scale, zeroPoint, qMin, qMax, y);
            for (int i = 0; i < x.Length; i++)
            {
                float expected = QuantizeLinear.Dequantize(QuantizeLinear.Quantize(x[i], scale, zeroPoint, qMin, qMax), scale, zeroPoint);
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[i]),
                    $"{path}: x = {x[i]:R}, scale {scale:R}, z {zeroPoint}: {y[i]:R}, scalar {expected:R}");
            }
        }
    }

    [Fact]
    public void TheGraphsRoundTripOpSplitBetweenThreadsIsTheFormula()
    {
        // 3 × 70,001 values: above the size one thread takes alone, and not a multiple of the chunks or the lanes.
        var x = Tensor.Uniform(new Rng(21), -3f, 3f, 3, 70_001);
        float scale = 0.0235f;
        int zeroPoint = 128;
        var node = new Node("qdq", OpTypes.QuantizeDequantizeLinear, ["x", "s", "z"], ["y"],
            new Dictionary<string, AttributeValue> { ["qmin"] = AttributeValue.Int(0), ["qmax"] = AttributeValue.Int(255) });
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Cpu.ThreadsOnThisThread = threads;
                var y = GraphOps.Run(node, [x, new Tensor([scale], 1), new Tensor([(float)zeroPoint], 1)], new OpContext(Training: false, new Rng(1)))[0];
                for (int i = 0; i < x.Size; i++)
                {
                    float expected = QuantizeLinear.Dequantize(QuantizeLinear.Quantize(x.Data[i], scale, zeroPoint, 0, 255), scale, zeroPoint);
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y.Data[i]), $"{threads} threads, {i}");
                }
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }
}
