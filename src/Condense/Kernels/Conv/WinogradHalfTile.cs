// The Winograd GEMMs' narrow tile on AVX-512: 12 output channels × 16 tiles in 12 zmm accumulators, stored straight
// into M. A block of at most 16 tiles (ResNet-18's 14×14 layers at batch 1 in F(4×4, 3×3): 16 tiles; its 7×7 layers
// in F(2×2, 3×3): 16) would otherwise take GemmKernelAvx512's edge path, which computes into a stack tile and copies
// the corner out element by element: at 256 channels that copy cost a fifth of the GEMM (measured). The FMA chain per
// element is GemmKernelAvx512's (acc = Σ_p a·b in order p, then c = acc, or c + acc for a later K block).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>A 12×16 fp32 tile over GemmKernelAvx512's packed panels (A: 12 rows, B: a 32-column panel's left half).</summary>
internal static unsafe class WinogradHalfTile
{
    /// <summary>Rows of the tile: GemmKernelAvx512's MR.</summary>
    public const int Rows = 12;

    /// <summary>
    /// c[i·ldc + j] = acc (or c + acc when <paramref name="add"/>) for i &lt; 12, j &lt; 16, acc[i, j] = Σ_p a[p·12 + i] · b[p·32 + j]
    /// in order p = 0 .. kc − 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c9);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[10]), b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[11]), b0, c11);
            a += 12; b += 32;
        }
        Store(c, c0, add); Store(c + ldc, c1, add); Store(c + 2 * ldc, c2, add); Store(c + 3 * ldc, c3, add);
        Store(c + 4 * ldc, c4, add); Store(c + 5 * ldc, c5, add); Store(c + 6 * ldc, c6, add); Store(c + 7 * ldc, c7, add);
        Store(c + 8 * ldc, c8, add); Store(c + 9 * ldc, c9, add); Store(c + 10 * ldc, c10, add); Store(c + 11 * ldc, c11, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> acc, bool add) => (add ? Vector512.Load(c) + acc : acc).Store(c);
}
