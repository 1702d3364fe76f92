// The 16 products of integer Winograd (QConv2dWinograd): per ξ, M[o, t] = Σ_c U[o, c]·V[c, t] on int16 channel pairs
// with vpmaddwd. A 6-row × 16-tile tile keeps 12 ymm of int32 sums; per channel pair it loads the 16 tiles' pairs (two
// ymm, already interleaved by the input transform, so no shuffle runs here) and broadcasts each row's weight pair.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Int8Conv;

/// <summary>The int16-pair GEMM of the integer Winograd convolution (AVX2).</summary>
internal static unsafe class QWinogradGemm
{
    /// <summary>Rows of a weight panel.</summary>
    public const int PanelRows = 6;

    /// <summary>Tiles of a column strip; a last strip may have half as many.</summary>
    public const int Strip = 16;

    /// <summary>
    /// m[o, t] = Σ_p u[o, p]·v[p, t] (int16 pairs, int32 sums) for the 6-row panels of <paramref name="u"/> (each
    /// <paramref name="pairs"/> × 6 int32 pairs, row fastest) and <paramref name="tiles"/> (a multiple of 8) tiles of
    /// <paramref name="v"/> (pair row p at v + p·<paramref name="vStride"/>); m row o at m + o·<paramref name="mStride"/>.
    /// </summary>
    public static void Run(int panels, int pairs, int* u, int* v, int vStride, int tiles, int* m, int mStride)
    {
        for (int p = 0; p < panels; p++)
        {
            int* panel = u + (long)p * pairs * PanelRows;
            int* rows = m + (long)p * PanelRows * mStride;
            int t = 0;
            for (; t <= tiles - Strip; t += Strip) Tile(pairs, panel, v + t, vStride, rows + t, mStride);
            if (t < tiles) HalfTile(pairs, panel, v + t, vStride, rows + t, mStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int pairs, int* u, int* v, int vStride, int* m, int mStride)
    {
        Vector256<int> a0l = default, a0h = default, a1l = default, a1h = default, a2l = default, a2h = default,
            a3l = default, a3h = default, a4l = default, a4h = default, a5l = default, a5h = default;
        for (int p = 0; p < pairs; p++)
        {
            var lo = Vector256.Load((short*)v); var hi = Vector256.Load((short*)(v + 8));
            { var s = Vector256.Create(u[0]).AsInt16(); a0l += Avx2.MultiplyAddAdjacent(lo, s); a0h += Avx2.MultiplyAddAdjacent(hi, s); }
            { var s = Vector256.Create(u[1]).AsInt16(); a1l += Avx2.MultiplyAddAdjacent(lo, s); a1h += Avx2.MultiplyAddAdjacent(hi, s); }
            { var s = Vector256.Create(u[2]).AsInt16(); a2l += Avx2.MultiplyAddAdjacent(lo, s); a2h += Avx2.MultiplyAddAdjacent(hi, s); }
            { var s = Vector256.Create(u[3]).AsInt16(); a3l += Avx2.MultiplyAddAdjacent(lo, s); a3h += Avx2.MultiplyAddAdjacent(hi, s); }
            { var s = Vector256.Create(u[4]).AsInt16(); a4l += Avx2.MultiplyAddAdjacent(lo, s); a4h += Avx2.MultiplyAddAdjacent(hi, s); }
            { var s = Vector256.Create(u[5]).AsInt16(); a5l += Avx2.MultiplyAddAdjacent(lo, s); a5h += Avx2.MultiplyAddAdjacent(hi, s); }
            u += PanelRows;
            v += vStride;
        }
        a0l.Store(m); a0h.Store(m + 8); m += mStride;
        a1l.Store(m); a1h.Store(m + 8); m += mStride;
        a2l.Store(m); a2h.Store(m + 8); m += mStride;
        a3l.Store(m); a3h.Store(m + 8); m += mStride;
        a4l.Store(m); a4h.Store(m + 8); m += mStride;
        a5l.Store(m); a5h.Store(m + 8);
    }

    // The last 8 tiles of a block whose tiles are not a multiple of 16.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HalfTile(int pairs, int* u, int* v, int vStride, int* m, int mStride)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        for (int p = 0; p < pairs; p++)
        {
            var x = Vector256.Load((short*)v);
            a0 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[0]).AsInt16());
            a1 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[1]).AsInt16());
            a2 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[2]).AsInt16());
            a3 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[3]).AsInt16());
            a4 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[4]).AsInt16());
            a5 += Avx2.MultiplyAddAdjacent(x, Vector256.Create(u[5]).AsInt16());
            u += PanelRows;
            v += vStride;
        }
        a0.Store(m); a1.Store(m + mStride); a2.Store(m + 2 * mStride);
        a3.Store(m + 3 * mStride); a4.Store(m + 4 * mStride); a5.Store(m + 5 * mStride);
    }
}
