// The contract between the GEMM driver (GemmDriver.cs) and its per-instruction-set micro-kernels, plus
// the edge-tile store they share. A micro-kernel multiplies one packed MR-row panel of A by one packed
// NR-column panel of B (see GemmPack.cs for the layouts) and merges the MR×NR tile into C.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>One register-blocked MR×NR tile kernel over packed panels.</summary>
internal unsafe interface IGemmKernel
{
    /// <summary>The instruction set the kernel needs; packing may use it too.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>Rows of C per tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per tile.</summary>
    static abstract int NR { get; }

    /// <summary>
    /// c[i, j] = alpha·acc[i, j] + beta·c[i, j] for i &lt; mr, j &lt; nr, where acc[i, j] = Σ_p a[i·row + p·step]·b[p·NR + j]
    /// summed in order p = 0..kc-1: A is a packed panel (row = 1, step = MR) or MR rows of A in place (row = lda, step = 1).
    /// Up to MR rows of A are read whatever mr is (a packed panel's are zero past mr). beta == 0 never reads c.
    /// </summary>
    static abstract void Run(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta);

    /// <summary>
    /// <see cref="Run(int, float*, nint, nint, float*, float*, int, int, int, float, float)"/> on a packed A panel (row = 1,
    /// step = MR): the form kernels that pack their own panels call (the Winograd convolution's products).
    /// </summary>
    static abstract void Run(int kc, float* a, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta);
}

/// <summary>Helpers shared by the micro-kernels.</summary>
internal static unsafe class MicroTile
{
    /// <summary>
    /// Merges the valid mr×nr corner of a full tile (row stride <paramref name="tileStride"/>) into C with
    /// the same rounding as the vector stores: t = alpha·acc, then c = fma(c, beta, t). Using one formula
    /// for full and ragged tiles keeps a C element's bits independent of where the tile boundaries fall,
    /// which is what makes results identical for any thread count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreFused(float* tile, int tileStride, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        for (int i = 0; i < mr; i++)
        {
            float* t = tile + i * tileStride, ci = c + i * ldc;
            if (beta == 0f)
                for (int j = 0; j < nr; j++) ci[j] = alpha * t[j];
            else
                for (int j = 0; j < nr; j++) ci[j] = MathF.FusedMultiplyAdd(ci[j], beta, alpha * t[j]);
        }
    }
}
