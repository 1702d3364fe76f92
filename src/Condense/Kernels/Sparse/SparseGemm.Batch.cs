// The m > 1 path of SparseGemm. X (m × cols) is transposed once into Xᵀ (cols × mp, mp = m rounded up to
// 16, zero-padded) so that each non-zero W[o, j] scales one contiguous row Xᵀ[j, :]: output column
// Y[:, o] = Σ_j W[o, j]·Xᵀ[j, :] + bias[o], accumulated a strip of 64 (AVX-512) or 32 (AVX2) batch rows at
// a time in registers, then written with stride `rows` (the strip's cache lines stay in L1 across
// consecutive outputs). Each Y[i, o] is one FMA chain over row o's entries in storage order, whatever the
// strip or thread, so threads (which split outputs) never change the bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Sparse;

public static unsafe partial class SparseGemm
{
    /// <summary>Below this many multiply-adds (non-zeros × m) one thread beats two (measured by `bench sparse`).</summary>
    internal const long ParallelBatchMacs = 1L << 16;

    [ThreadStatic] private static BatchJob? t_batchJob;

    private static void RunBatch(ref Operands k, float* x, int m, float* y)
    {
        int mp = (m + 15) & ~15;
        float* xt = PackBuffers.ForThisThread.TransposedX(k.Cols * mp);
        Transpose(k.Path, x, m, k.Cols, xt, mp);
        int parts = (long)k.NonZeros * m >= ParallelBatchMacs ? Math.Min(Cpu.Threads, Math.Max(1, k.Rows / 4)) : 1;
        if (parts <= 1) { Outputs(in k, 0, k.Rows, xt, m, mp, y); return; }
        var job = t_batchJob ??= new BatchJob();
        job.K = k; job.Xt = xt; job.Y = y; job.M = m; job.Mp = mp; job.Parts = parts;
        try { WorkerPool.Run(job, parts); }
        finally { job.Xt = job.Y = null; job.K = default; }
    }

    /// <summary>xt (cols × mp) = x (m × cols)ᵀ, columns m .. mp-1 zero.</summary>
    private static void Transpose(KernelPath path, float* x, int m, int cols, float* xt, int mp)
    {
        int i0 = 0;
        if (path != KernelPath.Scalar)
        {
            // 8 × 8 tiles transposed in registers: scalar strided stores cost several times more.
            for (; i0 <= m - 8; i0 += 8)
            {
                int j0 = 0;
                for (; j0 <= cols - 8; j0 += 8) GemmPack.Transpose8x8(x + (long)i0 * cols + j0, cols, xt + (long)j0 * mp + i0, mp);
                TransposeScalar(x, cols, xt, mp, i0, i0 + 8, j0, cols);
            }
        }
        TransposeScalar(x, cols, xt, mp, i0, m, 0, cols);
        if (mp > m)
            for (int j = 0; j < cols; j++) new Span<float>(xt + (long)j * mp + m, mp - m).Clear();
    }

    private static void TransposeScalar(float* x, int cols, float* xt, int mp, int i0, int i1, int j0, int j1)
    {
        for (int i = i0; i < i1; i++)
            for (int j = j0; j < j1; j++) xt[(long)j * mp + i] = x[(long)i * cols + j];
    }

    /// <summary>Outputs (columns of Y) o0 .. o1-1 for the whole batch.</summary>
    private static void Outputs(in Operands k, int o0, int o1, float* xt, int m, int mp, float* y)
    {
        float* strip = stackalloc float[64];
        int width = k.Path == KernelPath.Avx2 ? 32 : 64;
        // Strips outermost: all outputs then read the same `width` columns of Xᵀ (cols·width floats), which
        // stay in L2, rather than sweeping all of Xᵀ once per output.
        for (int i0 = 0; i0 < mp; i0 += width)
        {
            int w = Math.Min(width, mp - i0), n = Math.Min(w, m - i0);
            for (int o = o0; o < o1; o++)
            {
                int start = k.Starts[o], end = k.Starts[o + 1];
                switch (k.Path)
                {
                    case KernelPath.Avx512: StripAvx512(k.Values, k.Columns, start, end, xt + i0, mp, w, strip); break;
                    case KernelPath.Avx2: StripAvx2(k.Values, k.Columns, start, end, xt + i0, mp, w, strip); break;
                    default: StripScalar(k.Values, k.Columns, start, end, xt + i0, mp, w, strip); break;
                }
                float b = k.BiasOf(o);
                float* yo = y + (long)i0 * k.Rows + o;
                for (int i = 0; i < n; i++) yo[(long)i * k.Rows] = strip[i] + b;
            }
        }
    }

    /// <summary>strip[0 .. w) = Σ_p values[p]·xt[columns[p], 0 .. w) over p in [start, end); xt has row stride mp.</summary>
    private static void StripScalar(float* values, int* columns, int start, int end, float* xt, int mp, int w, float* strip)
    {
        new Span<float>(strip, w).Clear();
        for (int p = start; p < end; p++)
        {
            float v = values[p];
            float* row = xt + (long)columns[p] * mp;
            for (int i = 0; i < w; i++) strip[i] += v * row[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StripAvx512(float* values, int* columns, int start, int end, float* xt, int mp, int w, float* strip)
    {
        if (w == 64)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int p = start; p < end; p++)
            {
                var v = Vector512.Create(values[p]);
                float* row = xt + (long)columns[p] * mp;
                s0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row), s0);
                s1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row + 16), s1);
                s2 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row + 32), s2);
                s3 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row + 48), s3);
            }
            s0.Store(strip); s1.Store(strip + 16); s2.Store(strip + 32); s3.Store(strip + 48);
            return;
        }
        // A last strip of 16, 32 or 48 (w is a multiple of 16): one vector at a time, the same FMA chain per lane.
        for (int i = 0; i < w; i += 16)
        {
            Vector512<float> s = default;
            for (int p = start; p < end; p++)
                s = Avx512F.FusedMultiplyAdd(Vector512.Create(values[p]), Vector512.Load(xt + (long)columns[p] * mp + i), s);
            s.Store(strip + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StripAvx2(float* values, int* columns, int start, int end, float* xt, int mp, int w, float* strip)
    {
        if (w == 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int p = start; p < end; p++)
            {
                var v = Vector256.Create(values[p]);
                float* row = xt + (long)columns[p] * mp;
                s0 = Fma.MultiplyAdd(v, Vector256.Load(row), s0);
                s1 = Fma.MultiplyAdd(v, Vector256.Load(row + 8), s1);
                s2 = Fma.MultiplyAdd(v, Vector256.Load(row + 16), s2);
                s3 = Fma.MultiplyAdd(v, Vector256.Load(row + 24), s3);
            }
            s0.Store(strip); s1.Store(strip + 8); s2.Store(strip + 16); s3.Store(strip + 24);
            return;
        }
        for (int i = 0; i < w; i += 8)
        {
            Vector256<float> s = default;
            for (int p = start; p < end; p++)
                s = Fma.MultiplyAdd(Vector256.Create(values[p]), Vector256.Load(xt + (long)columns[p] * mp + i), s);
            s.Store(strip + i);
        }
    }

    /// <summary>Part p of a threaded batch product owns a run of outputs with about 1/parts of the non-zeros.</summary>
    private sealed class BatchJob : IParallelJob
    {
        public Operands K;
        public float* Xt, Y;
        public int M, Mp, Parts;

        public void Execute(int part) =>
            Outputs(in K, SplitRow(in K, part, Parts), SplitRow(in K, part + 1, Parts), Xt, M, Mp, Y);
    }
}
