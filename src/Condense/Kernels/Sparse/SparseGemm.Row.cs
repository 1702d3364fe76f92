// The m == 1 path of SparseGemm (batch-1 inference): y[o] = Σ_p Values[p]·x[Columns[p]] + bias[o] over row
// o's entries. The vector paths gather x at 16 (AVX-512) or 8 (AVX2) column indices at a time and FMA them
// with the contiguous values. A row's last partial vector is read past the row's end, into the next
// row's entries (valid columns, so the gather is safe), and masked off; only the matrix's final entries,
// where that would read past the arrays, fall back to scalar steps. Each row's operation order depends
// only on the row, so threads (which split rows) never change the bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Sparse;

public static unsafe partial class SparseGemm
{
    /// <summary>Below this many non-zeros one thread beats waking another (measured by `bench sparse`).</summary>
    internal const int ParallelNonZeros = 1 << 14;

    [ThreadStatic] private static RowJob? t_rowJob;

    private static void RunRows(ref Operands k, float* x, float* y)
    {
        int parts = k.NonZeros >= ParallelNonZeros ? Math.Min(Cpu.Threads, Math.Max(1, k.Rows / 16)) : 1;
        if (parts <= 1) { Rows(in k, 0, k.Rows, x, y); return; }
        var job = t_rowJob ??= new RowJob();
        job.K = k; job.X = x; job.Y = y; job.Parts = parts;
        try { WorkerPool.Run(job, parts); }
        finally { job.X = job.Y = null; job.K = default; }
    }

    /// <summary>Outputs o0 .. o1-1 of a one-row product.</summary>
    private static void Rows(in Operands k, int o0, int o1, float* x, float* y)
    {
        for (int o = o0; o < o1; o++)
        {
            int start = k.Starts[o], end = k.Starts[o + 1];
            float dot = k.Path switch
            {
                KernelPath.Avx512 => DotAvx512(k.Values, k.Columns, start, end, k.NonZeros, x),
                KernelPath.Avx2 => DotAvx2(k.Values, k.Columns, start, end, k.NonZeros, x),
                _ => DotScalar(k.Values, k.Columns, start, end, x),
            };
            y[o] = dot + k.BiasOf(o);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotScalar(float* values, int* columns, int start, int end, float* x)
    {
        float s = 0f;
        for (int p = start; p < end; p++) s += values[p] * x[columns[p]];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotAvx512(float* values, int* columns, int start, int end, int nonZeros, float* x)
    {
        // Two accumulators overlap consecutive gathers' latency.
        Vector512<float> s0 = default, s1 = default;
        int p = start;
        for (; p <= end - 32; p += 32)
        {
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(values + p), Gather16(x, columns + p), s0);
            s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(values + p + 16), Gather16(x, columns + p + 16), s1);
        }
        if (p <= end - 16)
        {
            s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(values + p), Gather16(x, columns + p), s0);
            p += 16;
        }
        if (p < end && p + 16 <= nonZeros)
        {
            // The lanes past the row's end hold the next row's entries: gather them (their columns are valid),
            // then drop them, products and all, so a NaN or infinity there cannot leak in.
            var keep = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(end - p)).AsSingle();
            var product = Vector512.Load(values + p) * Gather16(x, columns + p);
            s1 += Vector512.ConditionalSelect(keep, product, Vector512<float>.Zero);
            p = end;
        }
        float s = Vector512.Sum(s0 + s1);
        for (; p < end; p++) s = MathF.FusedMultiplyAdd(values[p], x[columns[p]], s);
        return s;
    }

    /// <summary>x at 16 column indices. .NET 10 exposes no 512-bit gather (vgatherdps zmm), so two 256-bit ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Gather16(float* x, int* columns) =>
        Vector512.Create(Avx2.GatherVector256(x, Vector256.Load(columns), 4), Avx2.GatherVector256(x, Vector256.Load(columns + 8), 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotAvx2(float* values, int* columns, int start, int end, int nonZeros, float* x)
    {
        Vector256<float> s0 = default, s1 = default;
        int p = start;
        for (; p <= end - 16; p += 16)
        {
            s0 = Fma.MultiplyAdd(Vector256.Load(values + p), Avx2.GatherVector256(x, Vector256.Load(columns + p), 4), s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(values + p + 8), Avx2.GatherVector256(x, Vector256.Load(columns + p + 8), 4), s1);
        }
        if (p <= end - 8)
        {
            s0 = Fma.MultiplyAdd(Vector256.Load(values + p), Avx2.GatherVector256(x, Vector256.Load(columns + p), 4), s0);
            p += 8;
        }
        if (p < end && p + 8 <= nonZeros)
        {
            var keep = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(end - p)).AsSingle();
            var product = Vector256.Load(values + p) * Avx2.GatherVector256(x, Vector256.Load(columns + p), 4);
            s1 += Vector256.ConditionalSelect(keep, product, Vector256<float>.Zero);
            p = end;
        }
        float s = Vector256.Sum(s0 + s1);
        for (; p < end; p++) s = MathF.FusedMultiplyAdd(values[p], x[columns[p]], s);
        return s;
    }

    /// <summary>Part p of a threaded one-row product owns a run of rows with about 1/parts of the non-zeros.</summary>
    private sealed class RowJob : IParallelJob
    {
        public Operands K;
        public float* X, Y;
        public int Parts;

        public void Execute(int part) =>
            Rows(in K, SplitRow(in K, part, Parts), SplitRow(in K, part + 1, Parts), X, Y);
    }
}
