// AVX-512 convolution tiles. Direct: up to 8 channel rows × 48 output positions (three zmm) in 24
// accumulators; each step loads 48 floats of the padded image at a tap's offset (Conv2dDirect.cs) and
// broadcasts one weight per row: 24 FMAs per 11 loads at 8 rows, leaving 4 of the 32 zmm registers spare.
// Dot (weight gradient): up to 8 dy rows × 3 taps in 24 accumulators over 16 positions a step, reduced at
// the end. Every row is written out so the JIT keeps the accumulators in registers; rows beyond TRows
// vanish at JIT time.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Up to 8 channel rows × 48 output positions with Vector512 and FMA.</summary>
internal unsafe struct ConvKernelAvx512 : IConvKernel
{
    public static KernelPath Path => KernelPath.Avx512;
    public static int MaxRows => 8;
    public static int NR => 48;
    public static int MaxDotRows => 8;
    public static int Lanes => 16;

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
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<TRows>(int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<float> c0a = default, c0b = default, c0c = default, c1a = default, c1b = default, c1c = default, c2a = default, c2b = default;
        Vector512<float> c2c = default, c3a = default, c3b = default, c3c = default, c4a = default, c4b = default, c4c = default, c5a = default;
        Vector512<float> c5b = default, c5c = default, c6a = default, c6b = default, c6c = default, c7a = default, c7b = default, c7c = default;
        {
            c0a = Start(c + 0 * ldc + 0, bias, 0, accumulate);
            c0b = Start(c + 0 * ldc + 16, bias, 0, accumulate);
            c0c = Start(c + 0 * ldc + 32, bias, 0, accumulate);
        }
        if (r > 1)
        {
            c1a = Start(c + 1 * ldc + 0, bias, 1, accumulate);
            c1b = Start(c + 1 * ldc + 16, bias, 1, accumulate);
            c1c = Start(c + 1 * ldc + 32, bias, 1, accumulate);
        }
        if (r > 2)
        {
            c2a = Start(c + 2 * ldc + 0, bias, 2, accumulate);
            c2b = Start(c + 2 * ldc + 16, bias, 2, accumulate);
            c2c = Start(c + 2 * ldc + 32, bias, 2, accumulate);
        }
        if (r > 3)
        {
            c3a = Start(c + 3 * ldc + 0, bias, 3, accumulate);
            c3b = Start(c + 3 * ldc + 16, bias, 3, accumulate);
            c3c = Start(c + 3 * ldc + 32, bias, 3, accumulate);
        }
        if (r > 4)
        {
            c4a = Start(c + 4 * ldc + 0, bias, 4, accumulate);
            c4b = Start(c + 4 * ldc + 16, bias, 4, accumulate);
            c4c = Start(c + 4 * ldc + 32, bias, 4, accumulate);
        }
        if (r > 5)
        {
            c5a = Start(c + 5 * ldc + 0, bias, 5, accumulate);
            c5b = Start(c + 5 * ldc + 16, bias, 5, accumulate);
            c5c = Start(c + 5 * ldc + 32, bias, 5, accumulate);
        }
        if (r > 6)
        {
            c6a = Start(c + 6 * ldc + 0, bias, 6, accumulate);
            c6b = Start(c + 6 * ldc + 16, bias, 6, accumulate);
            c6c = Start(c + 6 * ldc + 32, bias, 6, accumulate);
        }
        if (r > 7)
        {
            c7a = Start(c + 7 * ldc + 0, bias, 7, accumulate);
            c7b = Start(c + 7 * ldc + 16, bias, 7, accumulate);
            c7c = Start(c + 7 * ldc + 32, bias, 7, accumulate);
        }
        for (int p = 0; p < k; p++)
        {
            float* b = x + offsets[p];
            var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32);
            {
                var s = Vector512.Create(a[0]);
                c0a = Avx512F.FusedMultiplyAdd(s, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(s, b1, c0b); c0c = Avx512F.FusedMultiplyAdd(s, b2, c0c);
            }
            if (r > 1)
            {
                var s = Vector512.Create(a[1]);
                c1a = Avx512F.FusedMultiplyAdd(s, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(s, b1, c1b); c1c = Avx512F.FusedMultiplyAdd(s, b2, c1c);
            }
            if (r > 2)
            {
                var s = Vector512.Create(a[2]);
                c2a = Avx512F.FusedMultiplyAdd(s, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(s, b1, c2b); c2c = Avx512F.FusedMultiplyAdd(s, b2, c2c);
            }
            if (r > 3)
            {
                var s = Vector512.Create(a[3]);
                c3a = Avx512F.FusedMultiplyAdd(s, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(s, b1, c3b); c3c = Avx512F.FusedMultiplyAdd(s, b2, c3c);
            }
            if (r > 4)
            {
                var s = Vector512.Create(a[4]);
                c4a = Avx512F.FusedMultiplyAdd(s, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(s, b1, c4b); c4c = Avx512F.FusedMultiplyAdd(s, b2, c4c);
            }
            if (r > 5)
            {
                var s = Vector512.Create(a[5]);
                c5a = Avx512F.FusedMultiplyAdd(s, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(s, b1, c5b); c5c = Avx512F.FusedMultiplyAdd(s, b2, c5c);
            }
            if (r > 6)
            {
                var s = Vector512.Create(a[6]);
                c6a = Avx512F.FusedMultiplyAdd(s, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(s, b1, c6b); c6c = Avx512F.FusedMultiplyAdd(s, b2, c6c);
            }
            if (r > 7)
            {
                var s = Vector512.Create(a[7]);
                c7a = Avx512F.FusedMultiplyAdd(s, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(s, b1, c7b); c7c = Avx512F.FusedMultiplyAdd(s, b2, c7c);
            }
            a += r;
        }
        { c0a.Store(c + 0 * ldc + 0); c0b.Store(c + 0 * ldc + 16); c0c.Store(c + 0 * ldc + 32); }
        if (r > 1) { c1a.Store(c + 1 * ldc + 0); c1b.Store(c + 1 * ldc + 16); c1c.Store(c + 1 * ldc + 32); }
        if (r > 2) { c2a.Store(c + 2 * ldc + 0); c2b.Store(c + 2 * ldc + 16); c2c.Store(c + 2 * ldc + 32); }
        if (r > 3) { c3a.Store(c + 3 * ldc + 0); c3b.Store(c + 3 * ldc + 16); c3c.Store(c + 3 * ldc + 32); }
        if (r > 4) { c4a.Store(c + 4 * ldc + 0); c4b.Store(c + 4 * ldc + 16); c4c.Store(c + 4 * ldc + 32); }
        if (r > 5) { c5a.Store(c + 5 * ldc + 0); c5b.Store(c + 5 * ldc + 16); c5c.Store(c + 5 * ldc + 32); }
        if (r > 6) { c6a.Store(c + 6 * ldc + 0); c6b.Store(c + 6 * ldc + 16); c6c.Store(c + 6 * ldc + 32); }
        if (r > 7) { c7a.Store(c + 7 * ldc + 0); c7b.Store(c + 7 * ldc + 16); c7c.Store(c + 7 * ldc + 32); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Start(float* c, float* bias, int row, bool accumulate) =>
        accumulate ? Vector512.Load(c) : bias is null ? Vector512<float>.Zero : Vector512.Create(bias[row]);

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
            case 5: Dot<Rows5>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 6: Dot<Rows6>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 7: Dot<Rows7>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            case 8: Dot<Rows8>(taps, images, dy, dyImageStride, ldq, x, xImageStride, offsets, q, dw, ldw, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot<TRows>(int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default, a20 = default, a21 = default;
        Vector512<float> a22 = default, a30 = default, a31 = default, a32 = default, a40 = default, a41 = default, a42 = default, a50 = default;
        Vector512<float> a51 = default, a52 = default, a60 = default, a61 = default, a62 = default, a70 = default, a71 = default, a72 = default;
        int o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
        for (int image = 0; image < images; image++, dy += dyImageStride, x += xImageStride)
        {
            for (int j = 0; j < q; j += 16)
            {
                var x0 = Vector512.Load(x + o0 + j); var x1 = Vector512.Load(x + o1 + j); var x2 = Vector512.Load(x + o2 + j);
                {
                    var d = Vector512.Load(dy + 0 * ldq + j);
                    a00 = Avx512F.FusedMultiplyAdd(d, x0, a00); a01 = Avx512F.FusedMultiplyAdd(d, x1, a01); a02 = Avx512F.FusedMultiplyAdd(d, x2, a02);
                }
                if (r > 1)
                {
                    var d = Vector512.Load(dy + 1 * ldq + j);
                    a10 = Avx512F.FusedMultiplyAdd(d, x0, a10); a11 = Avx512F.FusedMultiplyAdd(d, x1, a11); a12 = Avx512F.FusedMultiplyAdd(d, x2, a12);
                }
                if (r > 2)
                {
                    var d = Vector512.Load(dy + 2 * ldq + j);
                    a20 = Avx512F.FusedMultiplyAdd(d, x0, a20); a21 = Avx512F.FusedMultiplyAdd(d, x1, a21); a22 = Avx512F.FusedMultiplyAdd(d, x2, a22);
                }
                if (r > 3)
                {
                    var d = Vector512.Load(dy + 3 * ldq + j);
                    a30 = Avx512F.FusedMultiplyAdd(d, x0, a30); a31 = Avx512F.FusedMultiplyAdd(d, x1, a31); a32 = Avx512F.FusedMultiplyAdd(d, x2, a32);
                }
                if (r > 4)
                {
                    var d = Vector512.Load(dy + 4 * ldq + j);
                    a40 = Avx512F.FusedMultiplyAdd(d, x0, a40); a41 = Avx512F.FusedMultiplyAdd(d, x1, a41); a42 = Avx512F.FusedMultiplyAdd(d, x2, a42);
                }
                if (r > 5)
                {
                    var d = Vector512.Load(dy + 5 * ldq + j);
                    a50 = Avx512F.FusedMultiplyAdd(d, x0, a50); a51 = Avx512F.FusedMultiplyAdd(d, x1, a51); a52 = Avx512F.FusedMultiplyAdd(d, x2, a52);
                }
                if (r > 6)
                {
                    var d = Vector512.Load(dy + 6 * ldq + j);
                    a60 = Avx512F.FusedMultiplyAdd(d, x0, a60); a61 = Avx512F.FusedMultiplyAdd(d, x1, a61); a62 = Avx512F.FusedMultiplyAdd(d, x2, a62);
                }
                if (r > 7)
                {
                    var d = Vector512.Load(dy + 7 * ldq + j);
                    a70 = Avx512F.FusedMultiplyAdd(d, x0, a70); a71 = Avx512F.FusedMultiplyAdd(d, x1, a71); a72 = Avx512F.FusedMultiplyAdd(d, x2, a72);
                }
            }
        }
        Store(dw + 0 * ldw, taps, a00, a01, a02, accumulate);
        if (r > 1) Store(dw + 1 * ldw, taps, a10, a11, a12, accumulate);
        if (r > 2) Store(dw + 2 * ldw, taps, a20, a21, a22, accumulate);
        if (r > 3) Store(dw + 3 * ldw, taps, a30, a31, a32, accumulate);
        if (r > 4) Store(dw + 4 * ldw, taps, a40, a41, a42, accumulate);
        if (r > 5) Store(dw + 5 * ldw, taps, a50, a51, a52, accumulate);
        if (r > 6) Store(dw + 6 * ldw, taps, a60, a61, a62, accumulate);
        if (r > 7) Store(dw + 7 * ldw, taps, a70, a71, a72, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dw, int taps, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, bool accumulate)
    {
        dw[0] = (accumulate ? dw[0] : 0f) + Sum(s0);
        if (taps > 1) dw[1] = (accumulate ? dw[1] : 0f) + Sum(s1);
        if (taps > 2) dw[2] = (accumulate ? dw[2] : 0f) + Sum(s2);
    }

    // Halving adds down to 4 lanes, then pairs: a fixed order, so the bits do not depend on anything but the inputs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        return (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));
    }
}
