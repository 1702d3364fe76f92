// The transformer kernels against plain references on every kernel path, odd lengths (vector tails) and sizes that
// split between threads: erf (A&S 7.1.26 in double), softmax rows (Tensor.SoftmaxReference), the batched GEMM (one
// GemmReference call per product, broadcast operands included) and the dynamic int8 MatMul (the float simulation
// DequantizeLinear(DynamicQuantizeLinear(X)) × DequantizeLinear(W) summed in double). Thread counts change no bit.
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class TransformerKernelsTests
{
    public static TheoryData<KernelPath, int> Lengths()
    {
        var data = new TheoryData<KernelPath, int>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (int n in new[] { 1, 7, 16, 37, 129, 70_001 }) data.Add(path, n);
        return data;
    }

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    /// <summary>The result of <paramref name="run"/> with the kernels' thread budget set to <paramref name="threads"/>.</summary>
    internal static T WithThreads<T>(int threads, Func<T> run)
    {
        int? saved = Cpu.ThreadsOnThisThread;
        Cpu.ThreadsOnThisThread = threads;
        try { return run(); }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ErfMatchesTheDoubleFormula(KernelPath path, int length)
    {
        var x = Tensor.Uniform(new Rng(1), -5f, 5f, length).Data;
        x[0] = 0f;
        using (Cpu.Force(path))
        {
            var y = WithThreads(2, () => { var o = new float[length]; ErfKernel.Apply(x, o); return o; });
            var one = WithThreads(1, () => { var o = new float[length]; ErfKernel.Apply(x, o); return o; });
            Assert.Equal(one, y);
            for (int i = 0; i < length; i++) Assert.Equal(Tensor.ErfDouble(x[i]), y[i], 6e-7);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SoftmaxRowsMatchTheReference(KernelPath path, int width)
    {
        int rows = width > 1000 ? 3 : 41;
        var x = Tensor.Uniform(new Rng(2), -20f, 20f, rows * width).Data;
        // A masked attention row: large negative and −∞ entries.
        for (int i = 0; i < width; i += 3) x[i] = i % 2 == 0 ? -1e9f : float.NegativeInfinity;
        if (width > 1) x[1] = 3f;
        foreach (bool log in new[] { false, true })
        {
            var expected = new float[x.Length];
            Tensor.SoftmaxReference(x, expected, rows, width, 1, log);
            using (Cpu.Force(path))
            {
                var y = WithThreads(2, () => { var o = new float[x.Length]; SoftmaxRows.Forward(x, o, rows, width, log); return o; });
                var one = WithThreads(1, () => { var o = new float[x.Length]; SoftmaxRows.Forward(x, o, rows, width, log); return o; });
                Assert.Equal(one, y);
                for (int i = 0; i < x.Length; i++)
                    if (float.IsNegativeInfinity(expected[i])) Assert.True(float.IsNegativeInfinity(y[i]), $"{i}: {y[i]}");
                    else Assert.Equal(expected[i], y[i], log ? 2e-5 * Math.Max(1, Math.Abs(expected[i])) : 1e-6);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BatchedGemmMatchesOneReferenceProductPerBatch(KernelPath path)
    {
        var shapes = new[] { (5, 7, 3, false, false), (33, 17, 9, false, true), (128, 128, 32, true, false), (1, 9, 4, false, false) };
        foreach (var (m, n, k, transA, transB) in shapes)
        {
            int count = 12;
            var a = Tensor.Uniform(new Rng(3), -1f, 1f, 3 * m * k).Data;   // 3 matrices, reused: broadcast operands
            var b = Tensor.Uniform(new Rng(4), -1f, 1f, count * k * n).Data;
            var offsetsA = Enumerable.Range(0, count).Select(i => i % 3 * m * k).ToArray();
            var offsetsB = Enumerable.Range(0, count).Select(i => i * k * n).ToArray();
            var distinct = Enumerable.Range(0, count).Select(i => i * m * n).ToArray();
            var shared = Enumerable.Range(0, count).Select(i => i % 2 * m * n).ToArray();   // products summed into 2 outputs
            foreach (var (offsetsC, accumulate) in new[] { (distinct, false), (shared, true) })
            {
                var expected = new float[count * m * n];
                for (int i = 0; i < count; i++)
                    GemmReference.Multiply(transA, transB, m, n, k, 1f, a.AsSpan(offsetsA[i]), transA ? m : k, b.AsSpan(offsetsB[i]),
                        transB ? k : n, accumulate ? 1f : 0f, expected.AsSpan(offsetsC[i]), n);
                using (Cpu.Force(path))
                {
                    var y = WithThreads(2, () => Run(offsetsC, accumulate));
                    Assert.Equal(WithThreads(1, () => Run(offsetsC, accumulate)), y);
                    for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 1e-4);
                }
            }

            float[] Run(int[] offsetsC, bool accumulate)
            {
                var c = new float[count * m * n];
                BatchedGemm.Multiply(transA, transB, m, n, k, a, offsetsA, b, offsetsB, c, offsetsC, accumulate);
                return c;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void DynamicQuantizedMatMulMatchesTheFloatSimulation(KernelPath path)
    {
        foreach (var (m, k, n, perColumn, withBias) in new[] { (1, 5, 7, true, false), (3, 33, 20, false, true), (130, 64, 33, true, true) })
        {
            var rng = new Rng((ulong)(m + k + n));
            var x = Tensor.Uniform(rng, -3f, 2f, m * k).Data;
            var codes = Tensor.Uniform(rng, -128f, 127f, k * n).Data.Select(v => MathF.Round(v)).ToArray();
            var scales = Tensor.Uniform(rng, 0.001f, 0.01f, perColumn ? n : 1).Data;
            var bias = withBias ? Tensor.Uniform(rng, -1f, 1f, n).Data : null;
            var (sx, zx) = DynamicQuantizedMatMul.Parameters(x);
            var y = new float[m * n];
            using (Cpu.Force(path))
                DynamicQuantizedMatMul.Multiply(x, m, new DynamicQuantizedWeight(codes, k, n, scales), bias, y);
            for (int i = 0; i < m; i++)
                for (int o = 0; o < n; o++)
                {
                    double sum = bias?[o] ?? 0;
                    for (int j = 0; j < k; j++)
                    {
                        int q = Math.Clamp((int)MathF.Round(x[i * k + j] / sx, MidpointRounding.ToEven) + zx, 0, 255);
                        sum += (double)(q - zx) * sx * codes[j * n + o] * scales[perColumn ? o : 0];
                    }
                    Assert.Equal(sum, y[i * n + o], 1e-5 * Math.Max(1, Math.Abs(sum)));
                }
        }
    }
}
