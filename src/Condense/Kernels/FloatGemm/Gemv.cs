// The m == 1 fast path of Gemm (batch-1 inference, one row of a backward pass): y = alpha·x·op(B) + beta·y.
// Packing would cost as much as the math here, so B is read in place: with transB (the Linear weight
// layout [out, in]) each output is a dot product of two contiguous rows; without it, a strip of columns
// accumulates x[p]·B[p, :] row by row. Threads split the outputs; each output's sum never depends on the split.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>Matrix-vector product for one-row GEMMs.</summary>
internal static unsafe partial class Gemv
{
    /// <summary>
    /// Below this many multiply-adds one thread is faster than waking another: the bench measured 300×784 (235K)
    /// ~1.7× faster on 2 threads when the machine was quiet, 100×300 (30K) slower.
    /// </summary>
    private const long ParallelMacs = 1L << 17;

    [ThreadStatic] private static Job? t_job;

    /// <summary>c[0, :] = alpha·op(A)[0, :]·op(B) + beta·c[0, :] where op(A) is 1×K.</summary>
    public static void Run(KernelPath path, bool transA, bool transB, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c)
    {
        // x is op(A)'s only row; when transA it is a strided column of A, so gather it.
        float* x = a;
        if (transA && lda != 1)
        {
            x = PackBuffers.ForThisThread.X(k);
            for (int p = 0; p < k; p++) x[p] = a[(long)p * lda];
        }
        int parts = (long)n * k >= ParallelMacs ? Math.Min(Cpu.Threads, n / 16) : 1;
        if (parts <= 1)
        {
            Columns(path, transB, 0, n, k, alpha, x, b, ldb, beta, c);
            return;
        }
        var job = t_job ??= new Job();
        (job.Path, job.TransB, job.N, job.K, job.Alpha, job.Ldb, job.Beta, job.Parts) =
            (path, transB, n, k, alpha, ldb, beta, parts);
        job.X = x; job.B = b; job.C = c;
        try { WorkerPool.Run(job, parts); }
        finally { job.X = job.B = job.C = null; }
    }

    /// <summary>Outputs j0 .. j1-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns(KernelPath path, bool transB, int j0, int j1, int k, float alpha,
        float* x, float* b, int ldb, float beta, float* c)
    {
        if (transB)
        {
            // B is (N, K): output j is dot(x, B[j, :]). On AVX-512, four rows share each load of x.
            int j = j0;
            if (path == KernelPath.Avx512)
            {
                for (; j <= j1 - 4; j += 4)
                {
                    var d = DotAvx512x4(x, b + (long)j * ldb, ldb, k);
                    for (int r = 0; r < 4; r++) c[j + r] = Merge(path, d[r], alpha, beta, c[j + r]);
                }
            }
            for (; j < j1; j++)
            {
                float* row = b + (long)j * ldb;
                float d = path switch
                {
                    KernelPath.Avx512 => DotAvx512(x, row, k),
                    KernelPath.Avx2 => DotAvx2(x, row, k),
                    _ => DotScalar(x, row, k),
                };
                c[j] = Merge(path, d, alpha, beta, c[j]);
            }
            return;
        }
        // B is (K, N): outputs j0..j1 accumulate x[p]·B[p, j0..j1].
        switch (path)
        {
            case KernelPath.Avx512: AxpyAvx512(j0, j1, k, alpha, x, b, ldb, beta, c); break;
            case KernelPath.Avx2: AxpyAvx2(j0, j1, k, alpha, x, b, ldb, beta, c); break;
            default: AxpyScalar(j0, j1, k, alpha, x, b, ldb, beta, c); break;
        }
    }

    /// <summary>The final store, rounded as the micro-kernels round it (fused on the FMA paths).</summary>
    private static float Merge(KernelPath path, float sum, float alpha, float beta, float c) =>
        beta == 0f ? alpha * sum
        : path == KernelPath.Scalar ? alpha * sum + beta * c
        : MathF.FusedMultiplyAdd(c, beta, alpha * sum);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotScalar(float* x, float* y, int k)
    {
        float s = 0f;
        for (int p = 0; p < k; p++) s += x[p] * y[p];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx512(float* x, float* y, int k)
    {
        // Four accumulators hide the FMA latency; the reduction order is fixed for a given k.
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - 64; p += 64)
        {
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(y + p), s0);
            s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p + 16), Vector512.Load(y + p + 16), s1);
            s2 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p + 32), Vector512.Load(y + p + 32), s2);
            s3 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p + 48), Vector512.Load(y + p + 48), s3);
        }
        for (; p <= k - 16; p += 16)
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(y + p), s0);
        float s = Vector512.Sum((s0 + s1) + (s2 + s3));
        for (; p < k; p++) s = MathF.FusedMultiplyAdd(x[p], y[p], s);
        return s;
    }

    /// <summary>Four DotAvx512 results (rows y, y + ldy, …) with exactly DotAvx512's operation order per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector128<float> DotAvx512x4(float* x, float* y, int ldy, int k)
    {
        float* y1 = y + ldy, y2 = y1 + ldy, y3 = y2 + ldy;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default, f0 = default, f1 = default, f2 = default, f3 = default;
        int p = 0;
        for (; p <= k - 64; p += 64)
        {
            // a/b/e/f are rows 0..3; suffixes 0..3 are DotAvx512's s0..s3.
            var x0 = Vector512.Load(x + p); var x1 = Vector512.Load(x + p + 16);
            var x2 = Vector512.Load(x + p + 32); var x3 = Vector512.Load(x + p + 48);
            a0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y + p), a0);
            b0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y1 + p), b0);
            e0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y2 + p), e0);
            f0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y3 + p), f0);
            a1 = Avx512F.FusedMultiplyAdd(x1, Vector512.Load(y + p + 16), a1);
            b1 = Avx512F.FusedMultiplyAdd(x1, Vector512.Load(y1 + p + 16), b1);
            e1 = Avx512F.FusedMultiplyAdd(x1, Vector512.Load(y2 + p + 16), e1);
            f1 = Avx512F.FusedMultiplyAdd(x1, Vector512.Load(y3 + p + 16), f1);
            a2 = Avx512F.FusedMultiplyAdd(x2, Vector512.Load(y + p + 32), a2);
            b2 = Avx512F.FusedMultiplyAdd(x2, Vector512.Load(y1 + p + 32), b2);
            e2 = Avx512F.FusedMultiplyAdd(x2, Vector512.Load(y2 + p + 32), e2);
            f2 = Avx512F.FusedMultiplyAdd(x2, Vector512.Load(y3 + p + 32), f2);
            a3 = Avx512F.FusedMultiplyAdd(x3, Vector512.Load(y + p + 48), a3);
            b3 = Avx512F.FusedMultiplyAdd(x3, Vector512.Load(y1 + p + 48), b3);
            e3 = Avx512F.FusedMultiplyAdd(x3, Vector512.Load(y2 + p + 48), e3);
            f3 = Avx512F.FusedMultiplyAdd(x3, Vector512.Load(y3 + p + 48), f3);
        }
        for (; p <= k - 16; p += 16)
        {
            var x0 = Vector512.Load(x + p);
            a0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y + p), a0);
            b0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y1 + p), b0);
            e0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y2 + p), e0);
            f0 = Avx512F.FusedMultiplyAdd(x0, Vector512.Load(y3 + p), f0);
        }
        float sa = Vector512.Sum((a0 + a1) + (a2 + a3)), sb = Vector512.Sum((b0 + b1) + (b2 + b3));
        float se = Vector512.Sum((e0 + e1) + (e2 + e3)), sf = Vector512.Sum((f0 + f1) + (f2 + f3));
        for (; p < k; p++)
        {
            sa = MathF.FusedMultiplyAdd(x[p], y[p], sa); sb = MathF.FusedMultiplyAdd(x[p], y1[p], sb);
            se = MathF.FusedMultiplyAdd(x[p], y2[p], se); sf = MathF.FusedMultiplyAdd(x[p], y3[p], sf);
        }
        return Vector128.Create(sa, sb, se, sf);
    }

    private static float DotAvx2(float* x, float* y, int k)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - 32; p += 32)
        {
            s0 = Fma.MultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(x + p + 8), Vector256.Load(y + p + 8), s1);
            s2 = Fma.MultiplyAdd(Vector256.Load(x + p + 16), Vector256.Load(y + p + 16), s2);
            s3 = Fma.MultiplyAdd(Vector256.Load(x + p + 24), Vector256.Load(y + p + 24), s3);
        }
        for (; p <= k - 8; p += 8)
            s0 = Fma.MultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0);
        float s = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; p < k; p++) s = MathF.FusedMultiplyAdd(x[p], y[p], s);
        return s;
    }

    /// <summary>Outputs j0..j1 of one threaded call: part p owns a run of 16-column groups.</summary>
    private sealed class Job : IParallelJob
    {
        public KernelPath Path;
        public bool TransB;
        public int N, K, Ldb, Parts;
        public float Alpha, Beta;
        public float* X, B, C;

        public void Execute(int part)
        {
            int groups = (N + 15) / 16;
            int j0 = (int)((long)groups * part / Parts) * 16, j1 = Math.Min(N, (int)((long)groups * (part + 1) / Parts) * 16);
            Columns(Path, TransB, j0, j1, K, Alpha, X, B, Ldb, Beta, C);
        }
    }
}
