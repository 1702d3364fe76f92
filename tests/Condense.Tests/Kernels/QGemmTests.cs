// QGemm against its specification, QGemmReference (an int64 naive loop), exactly, on every kernel path this
// CPU supports and every int8 dot product (int16 pairs; uint8 quads with vpdpbusd where AVX-VNNI exists —
// this xunit has no runtime skip, so without it those cases are simply not generated — and always with the
// exact AVX2 emulation of vpdpbusd; the vpmaddubsw quads too, which these full-range weights send back to the pairs —
// QGemmMaddubsTests has the weights they take): ragged shapes around the tile sizes (MR 4/6/12, 16/32 channels, k not a
// multiple of 2 or 4), several zero points, with and without bias, the saturation worst case (255 inputs ×
// −128 weights), the fused requantized output, and identical results for any thread count.
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;
using System.Runtime.Intrinsics.X86;

namespace Condense.Tests.Kernels;

public class QGemmTests
{
    // (m, n, k, zx): m = 1 and 3 run only the one-row kernel, 64 and 257 full tiles plus leftover rows;
    // 784 and 300 are LeNet-300-100. (64, 300, 784) and (257, 100, 65) are large enough to be threaded.
    private static readonly (int M, int N, int K, byte Zx)[] Shapes =
    [
        (1, 1, 1, 0), (1, 10, 784, 128), (1, 300, 784, 3), (1, 17, 7, 255), (3, 17, 31, 128), (3, 100, 33, 0),
        (64, 10, 63, 77), (64, 100, 65, 128), (64, 300, 784, 0), (257, 17, 7, 200), (257, 100, 65, 128),
        (257, 10, 784, 1), (13, 33, 1, 9), (25, 47, 2, 128),
    ];

    public static TheoryData<KernelPath, Int8Dot, int, int, int, byte, bool> ShapeCases()
    {
        var data = new TheoryData<KernelPath, Int8Dot, int, int, int, byte, bool>();
        foreach (var (path, dot) in Kernels())
            for (int s = 0; s < Shapes.Length; s++)
                data.Add(path, dot, Shapes[s].M, Shapes[s].N, Shapes[s].K, Shapes[s].Zx, s % 3 != 0);
        return data;
    }

    public static TheoryData<KernelPath, Int8Dot> Paths()
    {
        var data = new TheoryData<KernelPath, Int8Dot>();
        foreach (var (path, dot) in Kernels()) data.Add(path, dot);
        return data;
    }

    /// <summary>Every kernel: the pair kernel of each path, and the quad kernels (one code for every SIMD path) on the best path.</summary>
    private static IEnumerable<(KernelPath, Int8Dot)> Kernels() =>
        Cpu.SupportedPaths.Select(path => (path, Int8Dot.Pairs))
            .Concat(Cpu.SupportedInt8Dots.Where(dot => dot != Int8Dot.Pairs && Cpu.Best != KernelPath.Scalar).Select(dot => (Cpu.Best, dot)));

    private static IDisposable Force(KernelPath path, Int8Dot dot)
    {
        var forcedPath = Cpu.Force(path);
        var forcedDot = Cpu.Force(dot);
        return new Both(forcedPath, forcedDot);
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose() { second.Dispose(); first.Dispose(); }
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void MatchesReferenceExactly(KernelPath path, Int8Dot dot, int m, int n, int k, byte zx, bool withBias)
    {
        var p = Problem.Random(m, n, k, zx, withBias, seed: (ulong)(m * 7919 + n * 31 + k));
        var acc = new int[m * n];
        using (Force(path, dot)) QGemm.LinearForward(m, p.X, zx, p.Packed, p.Bias, acc);
        Assert.Equal(p.ExpectedAcc(), acc);
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void FusedRequantizationMatchesReference(KernelPath path, Int8Dot dot, int m, int n, int k, byte zx, bool withBias)
    {
        var p = Problem.Random(m, n, k, zx, withBias, seed: (ulong)(m + n * 131 + k * 17));
        var (multiplier, shift) = Multipliers(n, k, seed: (ulong)n);
        byte zy = (byte)(withBias ? 100 : 0), qmin = withBias ? zy : (byte)0; // ReLU fused in half the cases
        var y = new byte[m * n]; var expected = new byte[m * n];
        QGemmReference.LinearForwardRequantized(m, n, k, p.X, zx, p.W, p.Bias, multiplier, shift, zy, qmin, 255, expected);
        using (Force(path, dot)) QGemm.LinearForwardRequantized(m, p.X, zx, p.Packed, p.Bias, multiplier, shift, zy, qmin, 255, y);
        Assert.Equal(expected, y);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ExtremeValuesDoNotSaturate(KernelPath path, Int8Dot dot)
    {
        // 255 · −128 summed in pairs is the largest |product pair| vpmaddwd sees; k = 65 536 is the
        // longest supported row, where Σ x·W reaches −2^31 + 2^21 in int32.
        using var _ = Force(path, dot);
        foreach (int k in new[] { 1, 7, 65, 784, PackedInt8Weights.MaxInFeatures })
            foreach (sbyte wv in new sbyte[] { -128, 127 })
                foreach (byte xv in new byte[] { 0, 255 })
                    foreach (byte zx in new byte[] { 0, 255, 128 })
                    {
                        int m = k > 1000 ? 1 : 13, n = 17;
                        var x = Enumerable.Repeat(xv, m * k).ToArray();
                        var w = Enumerable.Repeat(wv, n * k).ToArray();
                        var acc = new int[m * n]; var expected = new int[m * n];
                        QGemmReference.LinearForward(m, n, k, x, zx, w, [], expected);
                        QGemm.LinearForward(m, x, zx, new PackedInt8Weights(w, n, k), [], acc);
                        Assert.Equal(expected, acc);
                        Assert.Equal((long)(xv - zx) * wv * k, expected[0]);
                    }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void IsIdenticalForAnyThreadCount(KernelPath path, Int8Dot dot)
    {
        using var _ = Force(path, dot);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var (m, n, k) in new[] { (1, 1000, 784), (200, 64, 300), (40, 520, 300) })
            {
                var p = Problem.Random(m, n, k, 128, withBias: true, seed: 5);
                var expected = p.ExpectedAcc();
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    var acc = new int[m * n];
                    QGemm.LinearForward(m, p.X, 128, p.Packed, p.Bias, acc);
                    Assert.Equal(expected, acc);
                }
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Fact]
    public void TheDefaultDotIsTheWidestVnniThisCpuHas()
    {
        // zmm vpdpbusd (emitted) before AVX-VNNI's ymm one, then vpmaddubsw on AVX2, else pairs.
        Assert.Equal(AvxVnni.IsSupported && Cpu.Supports(KernelPath.Avx2), Cpu.Supports(Int8Dot.Quads));
        if (Cpu.Active != KernelPath.Scalar)
            Assert.Equal(Cpu.Supports(Int8Dot.JitZmmQuads) ? Int8Dot.JitZmmQuads
                : Cpu.Supports(Int8Dot.Quads) ? Int8Dot.Quads
                : Cpu.Best == KernelPath.Avx2 ? Int8Dot.MaddubsQuads : Int8Dot.Pairs, Cpu.ActiveInt8Dot);
        using (Cpu.Force(KernelPath.Scalar)) Assert.Equal(Int8Dot.Pairs, Cpu.ActiveInt8Dot);
    }

    [Fact]
    public void PackingKeepsTheRowSums()
    {
        sbyte[] w = [1, -2, 3, 127, -128, 0];
        var packed = new PackedInt8Weights(w, 2, 3);
        Assert.Equal(new[] { 2, -1 }, packed.RowSums.ToArray());
    }

    [Fact]
    public void RejectsInconsistentShapes()
    {
        var packed = new PackedInt8Weights(new sbyte[6], 2, 3);
        Assert.Throws<ArgumentException>(() => QGemm.LinearForward(2, new byte[5], 0, packed, [], new int[4]));
        Assert.Throws<ArgumentException>(() => QGemm.LinearForward(2, new byte[6], 0, packed, new int[3], new int[4]));
        Assert.Throws<ArgumentException>(() => QGemm.LinearForward(2, new byte[6], 0, packed, [], new int[3]));
        Assert.Throws<ArgumentException>(() => new PackedInt8Weights(new sbyte[5], 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => QGemm.LinearForwardRequantized(2, new byte[6], 0, packed, [],
            [1 << 30, 1 << 30], [0, 31], 0, 0, 255, new byte[4]));
    }

    /// <summary>Per-channel multipliers as a real model has them: sx·sw[o]/sy around 1/√k, some ≥ 1.</summary>
    private static (int[] Multiplier, int[] Shift) Multipliers(int n, int k, ulong seed)
    {
        var rng = new Rng(seed);
        var multiplier = new int[n]; var shift = new int[n];
        for (int o = 0; o < n; o++)
        {
            double real = o % 7 == 3 ? 1 + 2 * rng.NextDouble() : (0.05 + rng.NextDouble()) / Math.Sqrt(k) / 16;
            Requantize.QuantizeMultiplier(real, out multiplier[o], out shift[o]);
        }
        return (multiplier, shift);
    }

    private sealed record Problem(int M, int N, int K, byte Zx, byte[] X, sbyte[] W, int[] Bias, PackedInt8Weights Packed)
    {
        public static Problem Random(int m, int n, int k, byte zx, bool withBias, ulong seed)
        {
            var rng = new Rng(seed);
            var x = new byte[m * k]; var w = new sbyte[n * k];
            for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(256) - 128);
            var bias = withBias ? Enumerable.Range(0, n).Select(_ => rng.NextInt(1 << 20) - (1 << 19)).ToArray() : [];
            return new Problem(m, n, k, zx, x, w, bias, new PackedInt8Weights(w, n, k));
        }

        public int[] ExpectedAcc()
        {
            var acc = new int[M * N];
            QGemmReference.LinearForward(M, N, K, X, Zx, W, Bias, acc);
            return acc;
        }
    }
}
