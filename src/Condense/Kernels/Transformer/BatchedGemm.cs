// A batch of independent fp32 GEMMs of one shape, C_b = A_b·B_b, at given offsets in three arrays: MatMul of
// rank > 2 (the attention products Q·Kᵀ and P·V, [batch, heads, L, d] × [batch, heads, d, L]). Each product is
// far below the size the blocked GEMM splits between threads (L = 128, d = 32: 1 MFLOP), so the batch is split
// instead: every thread runs whole products, on the caller's kernel path. Each product is the same FMA chain
// whoever runs it, so the bits do not depend on the thread count. The GEMM itself is Kernels/FloatGemm's.
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>Batched single-precision GEMM over the fp32 GEMM kernel.</summary>
internal static unsafe class BatchedGemm
{
    /// <summary>Flops below which the batch runs on one thread (waking a worker costs more).</summary>
    private const long ParallelFlops = 2_000_000;

    /// <summary>
    /// For each b: C[b·m·n …] = op(A at offsetsA[b]) · op(B at offsetsB[b]) (+ C when <paramref name="accumulate"/>); A is m × k
    /// (k × m when <paramref name="transA"/>), B is k × n (n × k when <paramref name="transB"/>), C is m × n, all tight row-major.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float[] a, int[] offsetsA, float[] b, int[] offsetsB,
        float[] c, int[] offsetsC, bool accumulate)
    {
        int count = offsetsA.Length;
        if (count == 0 || m == 0 || n == 0) return;
        var path = Cpu.Active;
        long flops = 2L * m * n * k;
        float beta = accumulate ? 1f : 0f;
        // Products large enough to split inside, or products that share an output (a broadcast gradient), run in order.
        bool split = count > 1 && flops * count >= ParallelFlops && flops < 10_000_000 && Distinct(offsetsC);
        ParallelRanges.For(count, split ? flops * count : 0, ParallelFlops, (first, last) =>
        {
            fixed (float* pa = a, pb = b, pc = c)
                for (int i = first; i < last; i++)
                    Gemm.Run(path, transA, transB, m, n, k, 1f, pa + offsetsA[i], transA ? m : k, pb + offsetsB[i], transB ? k : n,
                        beta, pc + offsetsC[i], n);
        });
    }

    private static bool Distinct(int[] offsets) => offsets.Distinct().Count() == offsets.Length;
}
