// The Winograd GEMMs' tile on AVX-512 (Conv2dWinograd.Job.cs): up to 8 output channels × 32 tiles (two zmm per row,
// 16 accumulators), × 16 tiles (one zmm) or × 8 tiles (one ymm), stored straight into M. Each step loads a row of the
// V panel and broadcasts one weight per row: 16 FMAs per 10 loads at 32 tiles, which Zen 4 issues at its one 512-bit
// (or two 256-bit) FMAs per cycle, so the narrow tiles cost no more per tile and a ragged block is covered in pieces of
// 32, 16 and 8 (49 tiles, ResNet-18's 28×28 layers at batch 1 in F(4×4, 3×3), take 56 lanes instead of 64). Panels of
// 8 rows leave no ragged panel for any channel count that is a multiple of 8 (GemmKernelAvx512's 12 rows left 4 or 8
// on every ResNet width, which its edge path computes into a stack tile and copies out element by element: 9 % of
// resnet-mini's 16-channel layer, measured). Rows beyond TRows vanish at JIT time. A K block's products are summed in
// order from 0 and then added to M (a later K block): the same chain whatever the tile or the thread, and shorter than
// one chain over every channel (which doubled F(4×4, 3×3)'s error at 512 channels, measured).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>Up to 8 rows × 32, 16 or 8 columns of M with FMA, over a packed U panel of 8 rows and a V panel of 32 columns.</summary>
internal static unsafe class WinogradTileAvx512
{
    /// <summary>Rows of a packed U panel.</summary>
    public const int PanelRows = 8;

    /// <summary>Columns of a packed V panel.</summary>
    public const int PanelColumns = 32;

    /// <summary>
    /// c[i·ldc + j] = sum, or c[i·ldc + j] + sum when <paramref name="accumulate"/>, with sum = Σ_p a[p·8 + i] · b[p·32 + j] in
    /// order p = 0 .. kc − 1, for i &lt; rows ≤ 8 and j &lt; <paramref name="columns"/> (32, 16 or 8).
    /// </summary>
    public static void Run(int rows, int columns, int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        switch (rows)
        {
            case 1: Run<Rows1>(columns, kc, a, b, c, ldc, accumulate); break;
            case 2: Run<Rows2>(columns, kc, a, b, c, ldc, accumulate); break;
            case 3: Run<Rows3>(columns, kc, a, b, c, ldc, accumulate); break;
            case 4: Run<Rows4>(columns, kc, a, b, c, ldc, accumulate); break;
            case 5: Run<Rows5>(columns, kc, a, b, c, ldc, accumulate); break;
            case 6: Run<Rows6>(columns, kc, a, b, c, ldc, accumulate); break;
            case 7: Run<Rows7>(columns, kc, a, b, c, ldc, accumulate); break;
            case 8: Run<Rows8>(columns, kc, a, b, c, ldc, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    private static void Run<TRows>(int columns, int kc, float* a, float* b, float* c, int ldc, bool accumulate) where TRows : struct, IRows
    {
        if (columns == 32) Wide<TRows>(kc, a, b, c, ldc, accumulate);
        else if (columns == 16) Narrow<TRows>(kc, a, b, c, ldc, accumulate);
        else Eight<TRows>(kc, a, b, c, ldc, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide<TRows>(int kc, float* a, float* b, float* c, int ldc, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        for (int p = 0; p < kc; p++, a += PanelRows, b += PanelColumns)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            if (r > 0)
            {
                var a0 = Vector512.Create(a[0]);
                c0a = Avx512F.FusedMultiplyAdd(a0, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(a0, b1, c0b);
            }
            if (r > 1)
            {
                var a1 = Vector512.Create(a[1]);
                c1a = Avx512F.FusedMultiplyAdd(a1, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(a1, b1, c1b);
            }
            if (r > 2)
            {
                var a2 = Vector512.Create(a[2]);
                c2a = Avx512F.FusedMultiplyAdd(a2, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(a2, b1, c2b);
            }
            if (r > 3)
            {
                var a3 = Vector512.Create(a[3]);
                c3a = Avx512F.FusedMultiplyAdd(a3, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(a3, b1, c3b);
            }
            if (r > 4)
            {
                var a4 = Vector512.Create(a[4]);
                c4a = Avx512F.FusedMultiplyAdd(a4, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(a4, b1, c4b);
            }
            if (r > 5)
            {
                var a5 = Vector512.Create(a[5]);
                c5a = Avx512F.FusedMultiplyAdd(a5, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(a5, b1, c5b);
            }
            if (r > 6)
            {
                var a6 = Vector512.Create(a[6]);
                c6a = Avx512F.FusedMultiplyAdd(a6, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(a6, b1, c6b);
            }
            if (r > 7)
            {
                var a7 = Vector512.Create(a[7]);
                c7a = Avx512F.FusedMultiplyAdd(a7, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(a7, b1, c7b);
            }
        }
        if (r > 0) { Store(c + 0 * ldc, c0a, accumulate); Store(c + 0 * ldc + 16, c0b, accumulate); }
        if (r > 1) { Store(c + 1 * ldc, c1a, accumulate); Store(c + 1 * ldc + 16, c1b, accumulate); }
        if (r > 2) { Store(c + 2 * ldc, c2a, accumulate); Store(c + 2 * ldc + 16, c2b, accumulate); }
        if (r > 3) { Store(c + 3 * ldc, c3a, accumulate); Store(c + 3 * ldc + 16, c3b, accumulate); }
        if (r > 4) { Store(c + 4 * ldc, c4a, accumulate); Store(c + 4 * ldc + 16, c4b, accumulate); }
        if (r > 5) { Store(c + 5 * ldc, c5a, accumulate); Store(c + 5 * ldc + 16, c5b, accumulate); }
        if (r > 6) { Store(c + 6 * ldc, c6a, accumulate); Store(c + 6 * ldc + 16, c6b, accumulate); }
        if (r > 7) { Store(c + 7 * ldc, c7a, accumulate); Store(c + 7 * ldc + 16, c7b, accumulate); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Narrow<TRows>(int kc, float* a, float* b, float* c, int ldc, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < kc; p++, a += PanelRows, b += PanelColumns)
        {
            var b0 = Vector512.Load(b);
            if (r > 0) c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            if (r > 1) c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            if (r > 2) c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            if (r > 3) c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            if (r > 4) c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            if (r > 5) c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            if (r > 6) c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            if (r > 7) c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
        }
        if (r > 0) Store(c + 0 * ldc, c0, accumulate);
        if (r > 1) Store(c + 1 * ldc, c1, accumulate);
        if (r > 2) Store(c + 2 * ldc, c2, accumulate);
        if (r > 3) Store(c + 3 * ldc, c3, accumulate);
        if (r > 4) Store(c + 4 * ldc, c4, accumulate);
        if (r > 5) Store(c + 5 * ldc, c5, accumulate);
        if (r > 6) Store(c + 6 * ldc, c6, accumulate);
        if (r > 7) Store(c + 7 * ldc, c7, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Eight<TRows>(int kc, float* a, float* b, float* c, int ldc, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < kc; p++, a += PanelRows, b += PanelColumns)
        {
            var b0 = Vector256.Load(b);
            if (r > 0) c0 = Fma.MultiplyAdd(Vector256.Create(a[0]), b0, c0);
            if (r > 1) c1 = Fma.MultiplyAdd(Vector256.Create(a[1]), b0, c1);
            if (r > 2) c2 = Fma.MultiplyAdd(Vector256.Create(a[2]), b0, c2);
            if (r > 3) c3 = Fma.MultiplyAdd(Vector256.Create(a[3]), b0, c3);
            if (r > 4) c4 = Fma.MultiplyAdd(Vector256.Create(a[4]), b0, c4);
            if (r > 5) c5 = Fma.MultiplyAdd(Vector256.Create(a[5]), b0, c5);
            if (r > 6) c6 = Fma.MultiplyAdd(Vector256.Create(a[6]), b0, c6);
            if (r > 7) c7 = Fma.MultiplyAdd(Vector256.Create(a[7]), b0, c7);
        }
        if (r > 0) Store(c + 0 * ldc, c0, accumulate);
        if (r > 1) Store(c + 1 * ldc, c1, accumulate);
        if (r > 2) Store(c + 2 * ldc, c2, accumulate);
        if (r > 3) Store(c + 3 * ldc, c3, accumulate);
        if (r > 4) Store(c + 4 * ldc, c4, accumulate);
        if (r > 5) Store(c + 5 * ldc, c5, accumulate);
        if (r > 6) Store(c + 6 * ldc, c6, accumulate);
        if (r > 7) Store(c + 7 * ldc, c7, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> sum, bool accumulate) => (accumulate ? Vector512.Load(c) + sum : sum).Store(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> sum, bool accumulate) => (accumulate ? Vector256.Load(c) + sum : sum).Store(c);
}
