// Packing for the blocked GEMM (GemmDriver.cs): copies a block of op(A) or op(B) into the K-major panel
// layout the micro-kernels stream through, zero-padding ragged panels. The transposes happen here,
// so every (transA, transB) combination runs the same micro-kernel.
using System.Runtime.CompilerServices;

namespace Condense.Kernels.FloatGemm;

/// <summary>Copies blocks of A and B into micro-kernel panels.</summary>
internal static unsafe partial class GemmPack
{
    /// <summary>
    /// Packs op(A)[row0 .. row0+mc, col0 .. col0+kc] into ceil(mc/mr) panels of mr rows;
    /// panel r holds dst[r·mr·kc + p·mr + i] = op(A)[row0 + r·mr + i, col0 + p], zero past mc.
    /// <paramref name="avx"/> allows AVX register transposes (the caller's kernel path has AVX).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, bool avx, float* a, int lda, int row0, int col0, int mc, int kc, int mr, float* dst)
    {
        for (int r = 0; r < mc; r += mr, dst += mr * kc)
        {
            int rows = Math.Min(mr, mc - r);
            if (rows < mr) new Span<float>(dst, mr * kc).Clear();
            if (transA)
            {
                // A is (K, M): a row of the panel (fixed p) is contiguous in A.
                float* src = a + (long)col0 * lda + row0 + r;
                for (int p = 0; p < kc; p++, src += lda)
                    Unsafe.CopyBlockUnaligned(dst + p * mr, src, (uint)(rows * sizeof(float)));
            }
            else if (avx)
            {
                // A is (M, K): the panel is the transpose of mr rows of A. Element by element this cost
                // about a tenth of a 256×784×300 product (measured); register transposes remove most of it.
                TransposePanelAvx(a + (long)(row0 + r) * lda + col0, lda, kc, rows, mr, dst);
            }
            else
            {
                // A is (M, K): each row of A becomes a column of the panel.
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (long)(row0 + r + i) * lda + col0;
                    float* d = dst + i;
                    for (int p = 0; p < kc; p++) d[p * mr] = src[p];
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[row0 .. row0+kc, col0 .. col0+nc] into ceil(nc/nr) panels of nr columns;
    /// panel s holds dst[s·nr·kc + p·nr + j] = op(B)[row0 + p, col0 + s·nr + j], zero past nc.
    /// <paramref name="avx"/> allows AVX register transposes (the caller's kernel path has AVX).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, bool avx, float* b, int ldb, int row0, int col0, int kc, int nc, int nr, float* dst)
    {
        if (!transB)
        {
            // B is (K, N): walk each row of the block once, left to right, and deal it out to the panels.
            // Reading a whole row in order, rather than 32 floats from each of 256 rows (a page apart when
            // ldb is 1024), keeps the hardware prefetcher streaming and touches each page once.
            int full = nc / nr * nr;
            float* src = b + (long)row0 * ldb + col0;
            for (int p = 0; p < kc; p++, src += ldb)
            {
                float* d = dst + p * nr;
                for (int s = 0; s < full; s += nr, d += nr * kc)
                    Unsafe.CopyBlockUnaligned(d, src + s, (uint)(nr * sizeof(float)));
                if (full < nc)
                {
                    int cols = nc - full;
                    Unsafe.CopyBlockUnaligned(d, src + full, (uint)(cols * sizeof(float)));
                    new Span<float>(d + cols, nr - cols).Clear();
                }
            }
            return;
        }
        for (int s = 0; s < nc; s += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - s);
            if (cols < nr) new Span<float>(dst, nr * kc).Clear();
            if (avx)
            {
                TransposePanelAvx(b + (long)(col0 + s) * ldb + row0, ldb, kc, cols, nr, dst);
                continue;
            }
            // B is (N, K): each row of B becomes a column of the panel.
            for (int j = 0; j < cols; j++)
            {
                float* src = b + (long)(col0 + s + j) * ldb + row0;
                float* d = dst + j;
                for (int p = 0; p < kc; p++) d[p * nr] = src[p];
            }
        }
    }
}
