// The dynamic int8 MatMul's kernels: the dequantizing QGemm epilogue (float(acc)·scale[o] + bias[o] on each block of sums
// in cache) against its specification — QGemmReference's exact int32 sums, then Dequantize's scalar row — bit for bit,
// on every kernel path and int8 dot product this CPU supports, on shapes around the tiles and threaded ones, with and
// without a bias, the same bits on one thread as on two; and the one-pass, threaded quantization parameters of X
// against the scalar formula, NaNs (skipped) in the vector body and in the tail included.
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;
using Condense.Tensors;
using static Condense.Tests.Kernels.TransformerKernelsTests;

namespace Condense.Tests.Kernels;

public class DynamicInt8KernelsTests
{
    private static readonly (int M, int N, int K, byte Zx)[] Shapes = [(1, 1, 1, 0), (3, 17, 31, 128), (64, 100, 65, 77), (257, 300, 384, 3)];

    public static TheoryData<KernelPath, Int8Dot, int> Cases()
    {
        var data = new TheoryData<KernelPath, Int8Dot, int>();
        var kernels = Cpu.SupportedPaths.Select(path => (path, Int8Dot.Pairs))
            .Concat(Cpu.SupportedInt8Dots.Where(dot => dot != Int8Dot.Pairs && Cpu.Best != KernelPath.Scalar).Select(dot => (Cpu.Best, dot)));
        foreach (var (path, dot) in kernels)
            for (int s = 0; s < Shapes.Length; s++) data.Add(path, dot, s);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public unsafe void MatchesTheReferenceSumsScaledBitForBit(KernelPath path, Int8Dot dot, int shape)
    {
        var (m, n, k, zx) = Shapes[shape];
        var rng = new Rng((ulong)(shape + 1));
        var x = Enumerable.Range(0, m * k).Select(_ => (byte)rng.NextInt(256)).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)(rng.NextInt(256) - 128)).ToArray();
        var scales = Enumerable.Range(0, n).Select(_ => 1e-4f * (1 + rng.NextFloat())).ToArray();
        float[] bias = shape % 2 == 0 ? [] : Enumerable.Range(0, n).Select(_ => rng.NextFloat() - 0.5f).ToArray();
        var acc = new int[m * n];
        QGemmReference.LinearForward(m, n, k, x, zx, w, [], acc);
        var expected = new float[m * n];
        fixed (int* pa = acc)
        fixed (float* ps = scales, pb = bias, pe = expected)
            for (int i = 0; i < m; i++) Dequantize.RowScalar(pa + i * n, ps, bias.Length == 0 ? null : pb, n, pe + i * n);
        var packed = new PackedInt8Weights(w, n, k);
        using var forcedPath = Cpu.Force(path);
        using var forcedDot = Cpu.Force(dot);
        float[] Run() { var y = new float[m * n]; QGemm.LinearForwardDequantized(m, x, zx, packed, scales, bias, y); return y; }
        Assert.Equal(expected, WithThreads(2, Run));
        Assert.Equal(expected, WithThreads(1, Run));
    }

    [Theory]
    [MemberData(nameof(Paths), MemberType = typeof(TransformerKernelsTests))]
    public void ParametersInOnePassMatchTheFormula(KernelPath path)
    {
        foreach (int length in new[] { 0, 1, 7, 16, 100, 70_001, 300_000 })
            foreach (int nan in new[] { -1, 3, length - 1 })
            {
                var x = Tensor.Uniform(new Rng((ulong)length), -3f, 5f, length).Data;
                if (nan >= 0 && nan < length) x[nan] = float.NaN;
                using (Cpu.Force(path))
                    Assert.Equal(DynamicQuantizedMatMul.Parameters(x), WithThreads(2, () => DynamicQuantizedMatMul.ParametersParallel(x)));
            }
        var positive = Tensor.Uniform(new Rng(3), 1f, 2f, 1000).Data;
        Assert.Equal(0, DynamicQuantizedMatMul.ParametersParallel(positive).ZeroPoint);
    }
}
