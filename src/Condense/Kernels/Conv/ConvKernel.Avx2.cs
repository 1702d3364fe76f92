// AVX2 convolution tiles. Direct: up to 6 channel rows × 16 output positions (two ymm) in 12 accumulators,
// the shape of the GEMM's AVX2 micro-kernel (GemmKernelAvx2.cs) with the row count fixed at JIT time to the
// channels there are. Dot (weight gradient): up to 4 dy rows × 3 taps in 12 accumulators, 8 positions a step.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Up to 6 channel rows × 16 output positions with Vector256 and FMA.</summary>
internal unsafe struct ConvKernelAvx2 : IConvKernel
{
    public static KernelPath Path => KernelPath.Avx2;
    public static int MaxRows => 6;
    public static int NR => 16;
    public static int MaxDotRows => 4;
    public static int Lanes => 8;

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
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<TRows>(int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector256<float> c4a = default, c4b = default, c5a = default, c5b = default;
        { c0a = Start(c + 0 * ldc + 0, bias, 0, accumulate); c0b = Start(c + 0 * ldc + 8, bias, 0, accumulate); }
        if (r > 1) { c1a = Start(c + 1 * ldc + 0, bias, 1, accumulate); c1b = Start(c + 1 * ldc + 8, bias, 1, accumulate); }
        if (r > 2) { c2a = Start(c + 2 * ldc + 0, bias, 2, accumulate); c2b = Start(c + 2 * ldc + 8, bias, 2, accumulate); }
        if (r > 3) { c3a = Start(c + 3 * ldc + 0, bias, 3, accumulate); c3b = Start(c + 3 * ldc + 8, bias, 3, accumulate); }
        if (r > 4) { c4a = Start(c + 4 * ldc + 0, bias, 4, accumulate); c4b = Start(c + 4 * ldc + 8, bias, 4, accumulate); }
        if (r > 5) { c5a = Start(c + 5 * ldc + 0, bias, 5, accumulate); c5b = Start(c + 5 * ldc + 8, bias, 5, accumulate); }
        for (int p = 0; p < k; p++)
        {
            float* b = x + offsets[p];
            var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
            { var s = Vector256.Create(a[0]); c0a = Fma.MultiplyAdd(s, b0, c0a); c0b = Fma.MultiplyAdd(s, b1, c0b); }
            if (r > 1) { var s = Vector256.Create(a[1]); c1a = Fma.MultiplyAdd(s, b0, c1a); c1b = Fma.MultiplyAdd(s, b1, c1b); }
            if (r > 2) { var s = Vector256.Create(a[2]); c2a = Fma.MultiplyAdd(s, b0, c2a); c2b = Fma.MultiplyAdd(s, b1, c2b); }
            if (r > 3) { var s = Vector256.Create(a[3]); c3a = Fma.MultiplyAdd(s, b0, c3a); c3b = Fma.MultiplyAdd(s, b1, c3b); }
            if (r > 4) { var s = Vector256.Create(a[4]); c4a = Fma.MultiplyAdd(s, b0, c4a); c4b = Fma.MultiplyAdd(s, b1, c4b); }
            if (r > 5) { var s = Vector256.Create(a[5]); c5a = Fma.MultiplyAdd(s, b0, c5a); c5b = Fma.MultiplyAdd(s, b1, c5b); }
            a += r;
        }
        { c0a.Store(c + 0 * ldc + 0); c0b.Store(c + 0 * ldc + 8); }
        if (r > 1) { c1a.Store(c + 1 * ldc + 0); c1b.Store(c + 1 * ldc + 8); }
        if (r > 2) { c2a.Store(c + 2 * ldc + 0); c2b.Store(c + 2 * ldc + 8); }
        if (r > 3) { c3a.Store(c + 3 * ldc + 0); c3b.Store(c + 3 * ldc + 8); }
        if (r > 4) { c4a.Store(c + 4 * ldc + 0); c4b.Store(c + 4 * ldc + 8); }
        if (r > 5) { c5a.Store(c + 5 * ldc + 0); c5b.Store(c + 5 * ldc + 8); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Start(float* c, float* bias, int row, bool accumulate) =>
        accumulate ? Vector256.Load(c) : bias is null ? Vector256<float>.Zero : Vector256.Create(bias[row]);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunDot(int rows, int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate)
    {
        switch (rows)
        {
            case 1: Dot<Rows1>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 2: Dot<Rows2>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 3: Dot<Rows3>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 4: Dot<Rows4>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot<TRows>(int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default, a20 = default, a21 = default;
        Vector256<float> a22 = default, a30 = default, a31 = default, a32 = default;
        int o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
        for (int image = 0; image < images; image++, dy += dyImageStride, x += xImageStride)
        {
            for (int j = 0; j < q; j += 8)
            {
                var x0 = Vector256.Load(x + o0 + j); var x1 = Vector256.Load(x + o1 + j); var x2 = Vector256.Load(x + o2 + j);
                {
                    var d = Vector256.Load(dy + 0 * ldq + j);
                    a00 = Fma.MultiplyAdd(d, x0, a00); a01 = Fma.MultiplyAdd(d, x1, a01); a02 = Fma.MultiplyAdd(d, x2, a02);
                }
                if (r > 1)
                {
                    var d = Vector256.Load(dy + 1 * ldq + j);
                    a10 = Fma.MultiplyAdd(d, x0, a10); a11 = Fma.MultiplyAdd(d, x1, a11); a12 = Fma.MultiplyAdd(d, x2, a12);
                }
                if (r > 2)
                {
                    var d = Vector256.Load(dy + 2 * ldq + j);
                    a20 = Fma.MultiplyAdd(d, x0, a20); a21 = Fma.MultiplyAdd(d, x1, a21); a22 = Fma.MultiplyAdd(d, x2, a22);
                }
                if (r > 3)
                {
                    var d = Vector256.Load(dy + 3 * ldq + j);
                    a30 = Fma.MultiplyAdd(d, x0, a30); a31 = Fma.MultiplyAdd(d, x1, a31); a32 = Fma.MultiplyAdd(d, x2, a32);
                }
            }
        }
        Store(dw + 0 * ldw, taps, a00, a01, a02, accumulate);
        if (r > 1) Store(dw + 1 * ldw, taps, a10, a11, a12, accumulate);
        if (r > 2) Store(dw + 2 * ldw, taps, a20, a21, a22, accumulate);
        if (r > 3) Store(dw + 3 * ldw, taps, a30, a31, a32, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dw, int taps, Vector256<float> s0, Vector256<float> s1, Vector256<float> s2, bool accumulate)
    {
        dw[0] = (accumulate ? dw[0] : 0f) + Sum(s0);
        if (taps > 1) dw[1] = (accumulate ? dw[1] : 0f) + Sum(s1);
        if (taps > 2) dw[2] = (accumulate ? dw[2] : 0f) + Sum(s2);
    }

    // Halving adds down to 4 lanes, then pairs: a fixed order, so the bits do not depend on anything but the inputs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> v)
    {
        var q = v.GetLower() + v.GetUpper();
        return (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));
    }
}
