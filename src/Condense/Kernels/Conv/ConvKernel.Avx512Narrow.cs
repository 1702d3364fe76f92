// The AVX-512 direct tile in the GEMM micro-kernel's shape: up to 12 channel rows × 32 output positions (two
// zmm) in 24 accumulators, 24 FMAs per 14 loads. Conv2dKernel picks it over the 8 × 48 tile when 32-wide
// tiles waste fewer lanes on an image's positions (a padded 7×7 has 63: one ragged 48-wide tile wastes a
// third of the work, two 32-wide tiles one position).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Up to 12 channel rows × 32 output positions with Vector512 and FMA.</summary>
internal unsafe struct ConvKernelAvx512Narrow : IConvKernel
{
    public static KernelPath Path => KernelPath.Avx512;
    public static int MaxRows => 12;
    public static int NR => 32;
    public static int MaxDotRows => ConvKernelAvx512.MaxDotRows;
    public static int Lanes => ConvKernelAvx512.Lanes;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunDirect(int rows, int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate)
    {
        switch (rows)
        {
            case 1: Direct<Rows1>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 2: Direct<Rows2>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 3: Direct<Rows3>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 4: Direct<Rows4>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 5: Direct<Rows5>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 6: Direct<Rows6>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 7: Direct<Rows7>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 8: Direct<Rows8>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 9: Direct<Rows9>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 10: Direct<Rows10>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 11: Direct<Rows11>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            case 12: Direct<Rows12>(k, a, x, offsets, c, ldc, bias, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<TRows>(int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        { c0a = Start(c + 0 * ldc + 0, bias, 0, accumulate); c0b = Start(c + 0 * ldc + 16, bias, 0, accumulate); }
        if (r > 1) { c1a = Start(c + 1 * ldc + 0, bias, 1, accumulate); c1b = Start(c + 1 * ldc + 16, bias, 1, accumulate); }
        if (r > 2) { c2a = Start(c + 2 * ldc + 0, bias, 2, accumulate); c2b = Start(c + 2 * ldc + 16, bias, 2, accumulate); }
        if (r > 3) { c3a = Start(c + 3 * ldc + 0, bias, 3, accumulate); c3b = Start(c + 3 * ldc + 16, bias, 3, accumulate); }
        if (r > 4) { c4a = Start(c + 4 * ldc + 0, bias, 4, accumulate); c4b = Start(c + 4 * ldc + 16, bias, 4, accumulate); }
        if (r > 5) { c5a = Start(c + 5 * ldc + 0, bias, 5, accumulate); c5b = Start(c + 5 * ldc + 16, bias, 5, accumulate); }
        if (r > 6) { c6a = Start(c + 6 * ldc + 0, bias, 6, accumulate); c6b = Start(c + 6 * ldc + 16, bias, 6, accumulate); }
        if (r > 7) { c7a = Start(c + 7 * ldc + 0, bias, 7, accumulate); c7b = Start(c + 7 * ldc + 16, bias, 7, accumulate); }
        if (r > 8) { c8a = Start(c + 8 * ldc + 0, bias, 8, accumulate); c8b = Start(c + 8 * ldc + 16, bias, 8, accumulate); }
        if (r > 9) { c9a = Start(c + 9 * ldc + 0, bias, 9, accumulate); c9b = Start(c + 9 * ldc + 16, bias, 9, accumulate); }
        if (r > 10) { c10a = Start(c + 10 * ldc + 0, bias, 10, accumulate); c10b = Start(c + 10 * ldc + 16, bias, 10, accumulate); }
        if (r > 11) { c11a = Start(c + 11 * ldc + 0, bias, 11, accumulate); c11b = Start(c + 11 * ldc + 16, bias, 11, accumulate); }
        for (int p = 0; p < k; p++)
        {
            float* b = x + offsets[p];
            var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
            { var s = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(s, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(s, b1, c0b); }
            if (r > 1) { var s = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(s, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(s, b1, c1b); }
            if (r > 2) { var s = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(s, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(s, b1, c2b); }
            if (r > 3) { var s = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(s, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(s, b1, c3b); }
            if (r > 4) { var s = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(s, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(s, b1, c4b); }
            if (r > 5) { var s = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(s, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(s, b1, c5b); }
            if (r > 6) { var s = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(s, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(s, b1, c6b); }
            if (r > 7) { var s = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(s, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(s, b1, c7b); }
            if (r > 8) { var s = Vector512.Create(a[8]); c8a = Avx512F.FusedMultiplyAdd(s, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(s, b1, c8b); }
            if (r > 9) { var s = Vector512.Create(a[9]); c9a = Avx512F.FusedMultiplyAdd(s, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(s, b1, c9b); }
            if (r > 10) { var s = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(s, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(s, b1, c10b); }
            if (r > 11) { var s = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(s, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(s, b1, c11b); }
            a += r;
        }
        { c0a.Store(c + 0 * ldc + 0); c0b.Store(c + 0 * ldc + 16); }
        if (r > 1) { c1a.Store(c + 1 * ldc + 0); c1b.Store(c + 1 * ldc + 16); }
        if (r > 2) { c2a.Store(c + 2 * ldc + 0); c2b.Store(c + 2 * ldc + 16); }
        if (r > 3) { c3a.Store(c + 3 * ldc + 0); c3b.Store(c + 3 * ldc + 16); }
        if (r > 4) { c4a.Store(c + 4 * ldc + 0); c4b.Store(c + 4 * ldc + 16); }
        if (r > 5) { c5a.Store(c + 5 * ldc + 0); c5b.Store(c + 5 * ldc + 16); }
        if (r > 6) { c6a.Store(c + 6 * ldc + 0); c6b.Store(c + 6 * ldc + 16); }
        if (r > 7) { c7a.Store(c + 7 * ldc + 0); c7b.Store(c + 7 * ldc + 16); }
        if (r > 8) { c8a.Store(c + 8 * ldc + 0); c8b.Store(c + 8 * ldc + 16); }
        if (r > 9) { c9a.Store(c + 9 * ldc + 0); c9b.Store(c + 9 * ldc + 16); }
        if (r > 10) { c10a.Store(c + 10 * ldc + 0); c10b.Store(c + 10 * ldc + 16); }
        if (r > 11) { c11a.Store(c + 11 * ldc + 0); c11b.Store(c + 11 * ldc + 16); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Start(float* c, float* bias, int row, bool accumulate) =>
        accumulate ? Vector512.Load(c) : bias is null ? Vector512<float>.Zero : Vector512.Create(bias[row]);

    /// <summary>The weight gradient's dots do not depend on the tile shape: the wide kernel's.</summary>
    public static void RunDot(int rows, int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate) =>
        ConvKernelAvx512.RunDot(rows, taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate);
}
