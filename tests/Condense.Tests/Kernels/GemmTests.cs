// Gemm against its specification, GemmReference, on every kernel path this CPU supports: ragged shapes
// around the tile and block sizes, all four transpose combinations, alpha/beta, wide leading dimensions,
// NaN garbage in C when beta == 0, bit-for-bit determinism across calls and thread counts, and A read in place
// giving the bits of A packed.
using System.Collections.Concurrent;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class GemmTests
{
    // (m, n, k): around MR (4, 6, 12), NR (4, 16, 32), KC (384) and the LeNet-300-100 shapes; m == 1 is the
    // GEMV path. (33, 300, 784) and (129, 65, 784) exceed the threading threshold and split N and M respectively.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 33), (1, 300, 784), (1, 129, 65), (7, 33, 65), (31, 63, 127),
        (33, 129, 7), (33, 300, 784), (129, 65, 784), (65, 31, 300), (127, 7, 33), (129, 65, 1), (300, 100, 63),
        (13, 47, 385), (100, 45, 9), (40, 17, 770), (8, 48, 40), (16, 16, 16),
    ];

    public static TheoryData<KernelPath, bool, bool, int, int, int> ShapeCases()
    {
        var data = new TheoryData<KernelPath, bool, bool, int, int, int>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (var (m, n, k) in Shapes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        data.Add(path, ta, tb, m, n, k);
        return data;
    }

    public static TheoryData<KernelPath, bool, bool, int, float, float> ScalingCases()
    {
        var data = new TheoryData<KernelPath, bool, bool, int, float, float>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (int m in new[] { 1, 16, 33 })
                        foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 0f), (1f, 1f), (2f, -0.75f), (0.25f, 1f) })
                            data.Add(path, ta, tb, m, alpha, beta);
        return data;
    }

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void MatchesReferenceOnRaggedShapes(KernelPath path, bool transA, bool transB, int m, int n, int k)
    {
        var p = Problem.Random(transA, transB, m, n, k, pad: 0, seed: (ulong)(m * 1000 + n + k));
        using (Cpu.Force(path)) p.Run(Gemm.Multiply, 1f, 0f);
        p.AssertMatchesReference(1f, 0f);
    }

    [Theory]
    [MemberData(nameof(ScalingCases))]
    public void HonoursAlphaBetaAndLeadingDimensions(KernelPath path, bool transA, bool transB, int m, float alpha, float beta)
    {
        // k = 400 spans two K blocks, so beta must be applied once, not per block.
        var p = Problem.Random(transA, transB, m, 65, 400, pad: 5, seed: 7);
        using (Cpu.Force(path)) p.Run(Gemm.Multiply, alpha, beta);
        p.AssertMatchesReference(alpha, beta);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void IsBitIdenticalAcrossCallsAndThreadCounts(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            // Large enough to be split across threads, in the blocked driver (m > 1) and in GEMV (m == 1).
            var shapes = new[]
            {
                (96, 200, 300, false, true), (40, 520, 300, true, false), (300, 64, 800, true, true),
                (1, 1000, 784, false, true), (1, 1000, 784, false, false),
                (260, 530, 400, false, false),   // past ChunkedFlops: two chunks per thread, claimed dynamically
            };
            foreach (var (m, n, k, ta, tb) in shapes)
            {
                var p = Problem.Random(ta, tb, m, n, k, pad: 0, seed: 3);
                var runs = new List<float[]>();
                foreach (int threads in new[] { 2, 2, 1, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    p.Run(Gemm.Multiply, 1f, 0f);
                    runs.Add((float[])p.C.Clone());
                }
                foreach (var r in runs) Assert.Equal(runs[0], r);
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ReadingAInPlaceGivesTheBitsOfPackingIt(KernelPath path)
    {
        // A (M, K) is read in place by the micro-kernels unless its row stride is a multiple of 1,024 floats (4 KiB), when it
        // is packed: the same A at both strides gives the same bits, ragged rows and columns, several K blocks, 1 to 3 threads.
        using var _ = Cpu.Force(path);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var (m, n, k) in new[] { (37, 45, 9), (25, 70, 800), (130, 300, 390) })
            {
                var rng = new Rng((ulong)(m + n + k));
                var b = Enumerable.Range(0, k * n).Select(_ => rng.NextNormal()).ToArray();
                var inPlace = Enumerable.Range(0, m * (k + 3)).Select(_ => rng.NextNormal()).ToArray();
                var packed = new float[m * 1024];
                for (int i = 0; i < m; i++) inPlace.AsSpan(i * (k + 3), k).CopyTo(packed.AsSpan(i * 1024));
                var expected = new float[m * n];
                Gemm.Multiply(false, false, m, n, k, 0.75f, packed, 1024, b, n, 0f, expected, n);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    var c = new float[m * n];
                    Gemm.Multiply(false, false, m, n, k, 0.75f, inPlace, k + 3, b, n, 0f, c, n);
                    Assert.Equal(expected, c);
                }
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ZeroAlphaOrZeroKOnlyScalesC(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var a = new float[6]; Array.Fill(a, float.NaN);
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Multiply(false, false, 2, 2, 3, 0f, a, 3, a, 2, 0.5f, c, 2);
        Assert.Equal(new float[] { 0.5f, 1, 1.5f, 2 }, c);
        var c2 = new float[] { float.NaN, float.NaN };
        Gemm.Multiply(false, false, 1, 2, 0, 1f, [], 1, [], 2, 0f, c2, 2);
        Assert.Equal(new float[] { 0, 0 }, c2);
    }

    [Fact]
    public void ConvenienceOverloadUsesTightLeadingDimensions()
    {
        // A is 2×3, B stored 2×3 (transB), C = A·Bᵀ is 2×2.
        float[] a = [1, 2, 3, 4, 5, 6], b = [1, 0, 1, 0, 1, 0], c = new float[4];
        Gemm.Multiply(false, true, 2, 2, 3, a, b, c);
        Assert.Equal(new float[] { 4, 2, 10, 5 }, c);
    }

    [Fact]
    public void RejectsSpansTooShortForTheShape()
    {
        var small = new float[5];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, small, new float[6], new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Gemm.Multiply(false, false, 2, 2, 3, 1f, new float[6], 2, new float[6], 2, 0f, new float[4], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 3, small, small, small));
    }

    [Fact]
    public void ForceRestoresThePreviousPath()
    {
        var before = Cpu.Active;
        Assert.Equal(Cpu.Best, before);
        using (Cpu.Force(KernelPath.Scalar)) Assert.Equal(KernelPath.Scalar, Cpu.Active);
        Assert.Equal(before, Cpu.Active);
        foreach (var path in Enum.GetValues<KernelPath>().Where(p => !Cpu.Supports(p)))
            Assert.Throws<PlatformNotSupportedException>(() => Cpu.Force(path));
    }

    private delegate void MultiplyFn(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

    /// <summary>One random GEMM problem with leading dimensions <c>pad</c> wider than tight.</summary>
    private sealed class Problem
    {
        public required bool TransA, TransB;
        public required int M, N, K, Lda, Ldb, Ldc;
        public required float[] A, B, C0, C;
        public required ulong Seed;

        // The reference is the slow part of these tests and does not depend on the kernel path: compute it once per problem.
        private static readonly ConcurrentDictionary<(bool, bool, int, int, int, int, ulong, float, float), (float[], float[])> s_references = new();

        public static Problem Random(bool transA, bool transB, int m, int n, int k, int pad, ulong seed)
        {
            var rng = new Rng(seed);
            int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
            float[] Fill(int count) { var x = new float[count]; for (int i = 0; i < count; i++) x[i] = rng.NextNormal(); return x; }
            var a = Fill((transA ? k : m) * lda);
            var b = Fill((transB ? n : k) * ldb);
            var c0 = Fill(m * ldc);
            return new Problem
            {
                TransA = transA, TransB = transB, M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc,
                A = a, B = b, C0 = c0, C = (float[])c0.Clone(), Seed = seed,
            };
        }

        public void Run(MultiplyFn multiply, float alpha, float beta)
        {
            C0.CopyTo(C, 0);
            // beta == 0 must not read C: garbage in the output area must not leak into the result.
            if (beta == 0f)
                for (int i = 0; i < M; i++) C.AsSpan(i * Ldc, N).Fill(float.NaN);
            multiply(TransA, TransB, M, N, K, alpha, A, Lda, B, Ldb, beta, C, Ldc);
        }

        private (float[] Expected, float[] Scale) Reference(float alpha, float beta)
        {
            var expected = (float[])C0.Clone();
            GemmReference.Multiply(TransA, TransB, M, N, K, alpha, A, Lda, B, Ldb, beta, expected, Ldc);
            // The error bound scales with Σ_p |alpha·a·b| + |beta·c|, computed by the same loop on absolute values.
            var scale = C0.Select(Math.Abs).ToArray();
            GemmReference.Multiply(TransA, TransB, M, N, K, Math.Abs(alpha), A.Select(Math.Abs).ToArray(), Lda,
                B.Select(Math.Abs).ToArray(), Ldb, Math.Abs(beta), scale, Ldc);
            return (expected, scale);
        }

        public void AssertMatchesReference(float alpha, float beta)
        {
            var (expected, scale) = s_references.GetOrAdd((TransA, TransB, M, N, K, Ldc, Seed, alpha, beta), _ => Reference(alpha, beta));
            for (int i = 0; i < M; i++)
            {
                for (int j = 0; j < Ldc; j++)
                {
                    int at = i * Ldc + j;
                    if (j >= N) { Assert.Equal(C0[at], C[at]); continue; }   // padding is never written
                    double err = Math.Abs(C[at] - expected[at]), allowed = 1e-4 * scale[at] + 1e-30;
                    Assert.True(err <= allowed,
                        $"C[{i},{j}] = {C[at]}, reference {expected[at]} (error {err:g3}, allowed {allowed:g3})");
                }
            }
        }
    }
}
