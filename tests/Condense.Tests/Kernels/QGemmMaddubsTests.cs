// The vpmaddubsw quads of QGemm (Int8Dot.MaddubsQuads) against QGemmReference, exactly: the pair condition itself
// (MaddubsDot4.PairIsExact against every int8 pair at the uint8 corners, and the instruction against scalar sums), then
// ragged shapes with 7-bit weights at their extremes (±64, x = 255, k odd so a pair is zero-padded), rows built only
// of limit pairs (64 and 64, −128 and 0, 127 and 1), one saturating pair (127, 127) that must send the matrix to the
// pair kernels — the quad kernel run directly on it must be wrong, or the fall-back test proves nothing — and
// identical sums for any thread count.
using System.Runtime.Intrinsics;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QGemmMaddubsTests
{
    // (m, n, k, zx): tails of the 6-row tile and the 16-channel panel, k odd (a zero-padded last pair) and k ≡ 2 mod 4.
    private static readonly (int M, int N, int K, byte Zx)[] Shapes =
    [
        (1, 1, 1, 0), (1, 17, 7, 255), (5, 33, 31, 128), (7, 15, 65, 3), (13, 47, 130, 0), (64, 100, 257, 128), (257, 31, 99, 200),
    ];

    public static TheoryData<int> ShapeIndices()
    {
        var data = new TheoryData<int>();
        for (int s = 0; s < Shapes.Length; s++) data.Add(s);
        return data;
    }

    [Fact]
    public void PairConditionIsExactlyTheInt16RangeAtTheUint8Corners()
    {
        // u·a + v·b is linear in u, v ∈ [0, 255]: its extremes are at the corners.
        for (int a = -128; a < 128; a++)
            for (int b = -128; b < 128; b++)
            {
                bool fits = true;
                foreach (int u in new[] { 0, 255 })
                    foreach (int v in new[] { 0, 255 })
                        fits &= u * a + v * b is >= short.MinValue and <= short.MaxValue;
                Assert.Equal(fits, MaddubsDot4.PairIsExact((sbyte)a, (sbyte)b));
            }
        Assert.True(MaddubsDot4.PairIsExact(64, 64));
        Assert.True(MaddubsDot4.PairIsExact(-128, 0));
        Assert.True(MaddubsDot4.PairIsExact(127, 1));
        Assert.False(MaddubsDot4.PairIsExact(127, 2));
        Assert.False(MaddubsDot4.PairIsExact(-128, -1));
    }

    [Fact]
    public void StepEqualsTheScalarSumWhereThePairsFitAndSaturatesWhereNot()
    {
        if (!Cpu.Supports(Int8Dot.MaddubsQuads)) return;   // no AVX2
        var rng = new Rng(3);
        sbyte[][] quads = [[64, 64, -64, -64], [-128, 0, 0, -128], [127, 1, 1, 127], [-1, -127, 63, -63], [127, 127, 0, 0]];
        foreach (var quad in quads)
            for (int trial = 0; trial < 50; trial++)
            {
                var u = new byte[32]; var s = new sbyte[32]; var acc = new int[8];
                for (int i = 0; i < 32; i++) { u[i] = trial == 0 ? (byte)255 : (byte)rng.NextInt(256); s[i] = quad[i % 4]; }
                for (int l = 0; l < 8; l++) acc[l] = rng.NextInt(1 << 20);
                var result = MaddubsDot4.Accumulate(Vector256.Create(acc), Vector256.Create(u), Vector256.Create(s));
                var expected = new int[8];
                for (int l = 0; l < 8; l++) expected[l] = acc[l] + Enumerable.Range(4 * l, 4).Sum(i => u[i] * s[i]);
                if (MaddubsDot4.PairIsExact(quad[0], quad[1]) && MaddubsDot4.PairIsExact(quad[2], quad[3]))
                    Assert.Equal(expected, ToArray(result));
                else if (trial == 0)
                    Assert.NotEqual(expected, ToArray(result));   // 255·254 is past int16: vpmaddubsw saturates
            }
    }

    [Theory]
    [MemberData(nameof(ShapeIndices))]
    public void SevenBitWeightsTakeTheQuadsAndMatchTheReference(int shape)
    {
        var (m, n, k, zx) = Shapes[shape];
        var rng = new Rng((ulong)(shape + 40));
        // Mostly the extremes: x = 255 and 0, w = ±64 (both of a pair at 64 is the largest pair sum 7 bits allow).
        var x = Enumerable.Range(0, m * k).Select(_ => rng.NextInt(3) switch { 0 => (byte)255, 1 => (byte)0, _ => (byte)rng.NextInt(256) }).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => rng.NextInt(3) switch { 0 => (sbyte)64, 1 => (sbyte)-64, _ => (sbyte)(rng.NextInt(129) - 64) })
            .ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => rng.NextInt(1 << 20) - (1 << 19)).ToArray();
        var packed = new PackedInt8Weights(w, n, k);
        Assert.True(packed.PairSumsFitInt16);
        AssertExact(m, n, k, x, zx, w, bias, packed);
    }

    [Fact]
    public void LimitPairsTakeTheQuadsAndMatchTheReference()
    {
        (sbyte, sbyte)[] limits = [(64, 64), (-128, 0), (0, -128), (127, 1), (1, 127), (-64, -64), (-1, -127), (-128, 127), (127, -128)];
        int m = 9, n = 21, k = 23;
        var rng = new Rng(5);
        var w = new sbyte[n * k];
        for (int o = 0; o < n; o++)
            for (int p = 0; p < k; p += 2)
            {
                var (a, b) = limits[rng.NextInt(limits.Length)];
                w[o * k + p] = p + 1 < k ? a : (sbyte)-128;   // the last input (k odd) pairs with the zero padding
                if (p + 1 < k) w[o * k + p + 1] = b;
            }
        var x = Enumerable.Range(0, m * k).Select(i => i % 5 == 4 ? (byte)rng.NextInt(256) : (byte)255).ToArray();
        var packed = new PackedInt8Weights(w, n, k);
        Assert.True(packed.PairSumsFitInt16);
        AssertExact(m, n, k, x, 0, w, [], packed);
        AssertExact(m, n, k, x, 255, w, [], packed);
    }

    [Theory]
    [InlineData(10, false)]   // inputs 10 and 11: a pair of the quad layout, 255·254 saturates — the pair kernels must take it
    [InlineData(11, true)]    // inputs 11 and 12 sit in two pairs, each 127 beside a 0: the quads stay exact
    public unsafe void OneSaturatingPairSendsTheMatrixToThePairKernels(int first, bool fits)
    {
        int m = 7, n = 18, k = 37;
        var rng = new Rng(9);
        var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)(rng.NextInt(129) - 64)).ToArray();
        int row = 5 * k;
        w[row + first - 1] = w[row + first + 2] = 0;
        w[row + first] = w[row + first + 1] = 127;
        var x = Enumerable.Repeat((byte)255, m * k).ToArray();
        var packed = new PackedInt8Weights(w, n, k);
        Assert.Equal(fits, packed.PairSumsFitInt16);
        AssertExact(m, n, k, x, 0, w, [], packed);
        if (fits || !Cpu.Supports(Int8Dot.MaddubsQuads)) return;
        // The check is what keeps this exact: the quad kernel itself saturates on the pair.
        var expected = new int[m * n]; var direct = new int[m * n];
        QGemmReference.LinearForward(m, n, k, x, 0, w, [], expected);
        fixed (byte* px = x)
        fixed (int* pc = direct)
            QGemmDriver<QGemmKernelQuads<MaddubsDot4>>.Run(m, px, 0, packed, null, pc, default);
        Assert.NotEqual(expected, direct);
    }

    [Fact]
    public void IsIdenticalForAnyThreadCount()
    {
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var (m, n, k) in new[] { (4, 1000, 785), (200, 64, 301), (40, 520, 300) })
            {
                var rng = new Rng((ulong)k);
                var x = Enumerable.Range(0, m * k).Select(_ => (byte)rng.NextInt(256)).ToArray();
                var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)(rng.NextInt(127) - 63)).ToArray();
                var bias = Enumerable.Range(0, n).Select(_ => rng.NextInt(1 << 16)).ToArray();
                var packed = new PackedInt8Weights(w, n, k);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    AssertExact(m, n, k, x, 128, w, bias, packed);
                }
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Fact]
    public void IsTheDefaultOnlyOnAvx2WithoutVnni()
    {
        bool vnni = Cpu.Supports(Int8Dot.Quads) || Cpu.Supports(Int8Dot.JitZmmQuads);
        Assert.Equal(!vnni && Cpu.Best == KernelPath.Avx2, Cpu.BestInt8Dot == Int8Dot.MaddubsQuads);
        Assert.Equal(Cpu.Supports(KernelPath.Avx2), Cpu.Supports(Int8Dot.MaddubsQuads));
    }

    /// <summary>LinearForward and LinearForwardRequantized with the vpmaddubsw quads forced (when AVX2 exists) equal the reference.</summary>
    private static void AssertExact(int m, int n, int k, byte[] x, byte zx, sbyte[] w, int[] bias, PackedInt8Weights packed)
    {
        var expected = new int[m * n];
        QGemmReference.LinearForward(m, n, k, x, zx, w, bias, expected);
        var multiplier = new int[n]; var shift = new int[n];
        for (int o = 0; o < n; o++) Requantize.QuantizeMultiplier((1 + o % 5) * 0.004 / Math.Sqrt(k), out multiplier[o], out shift[o]);
        var expectedY = new byte[m * n];
        QGemmReference.LinearForwardRequantized(m, n, k, x, zx, w, bias, multiplier, shift, 128, 0, 255, expectedY);
        var acc = new int[m * n]; var y = new byte[m * n];
        using (Cpu.Supports(Int8Dot.MaddubsQuads) ? Cpu.Force(Int8Dot.MaddubsQuads) : null)
        {
            QGemm.LinearForward(m, x, zx, packed, bias, acc);
            QGemm.LinearForwardRequantized(m, x, zx, packed, bias, multiplier, shift, 128, 0, 255, y);
        }
        Assert.Equal(expected, acc);
        Assert.Equal(expectedY, y);
    }

    private static int[] ToArray(Vector256<int> v)
    {
        var a = new int[8];
        v.CopyTo(a);
        return a;
    }
}
