// The common pooling window, 2 × 2 at stride 2 without padding (LeNet-5, VGG, most CNNs), whose windows
// tile the input: each output row reads two input rows. The vertical step is an element-wise max/sum of
// the two rows; the horizontal step splits the result into its even and odd lanes with permutes and takes
// their max/sum, 16 (AVX-512) or 8 (AVX2) outputs at a time, 4 (SSE) for rows under 16 wide; a row's last
// block overlaps the one before it instead of leaving a scalar tail. The max is IEEE 754-2019 maximum
// (Vector512.Max as MathF.Max: NaN-propagating, +0 above −0), so NaN outputs are unchanged from the
// general loop. The backward pass finds each window's argmax again from x and y (first tap row-major equal
// to the output, or the first NaN) instead of storing indices, as the general path's MaxArgmax does.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Pool;

/// <summary>Max and average pooling for 2 × 2 windows at stride 2 without padding, over planes [first, last).</summary>
internal static class PoolingTiles
{
    /// <summary>True when <paramref name="window"/> is 2 × 2, stride 2, unpadded and adds no ceil-mode overhang window.</summary>
    public static bool Fits(PoolParameters window, int height, int width) =>
        window is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadTop: 0, PadLeft: 0, PadBottom: 0, PadRight: 0, DilationH: 1, DilationW: 1 }
        && window.OutputSize(height, width) == (height / 2, width / 2);

    private static readonly Vector512<int> s_even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> s_odd = s_even + Vector512<int>.One;

    /// <summary>y = the max (or, with <paramref name="average"/>, the mean) of each 2 × 2 block of x.</summary>
    public static void Forward(float[] x, float[] y, int first, int last, int height, int width, bool average, KernelPath path)
    {
        int outH = height / 2, outW = width / 2;
        for (int p = first; p < last; p++)
            for (int oh = 0; oh < outH; oh++)
            {
                ref float top = ref x[(p * height + 2 * oh) * width];
                ref float bottom = ref Unsafe.Add(ref top, width);
                ref float output = ref y[(p * outH + oh) * outW];
                int j = 0;
                if (path == KernelPath.Avx512)
                    for (; j + 16 <= outW; j += 16)
                        RowAvx512(ref top, ref bottom, ref output, j, average);
                if (path != KernelPath.Scalar && outW >= 8)
                {
                    for (; j + 8 <= outW; j += 8)
                        RowAvx2(ref top, ref bottom, ref output, j, average);
                    // The last outputs as one block ending at outW, overlapping the previous one: the
                    // recomputed outputs get the same bits (14 wide, LeNet's first pool, needs no scalar tail).
                    if (j < outW) RowAvx2(ref top, ref bottom, ref output, j = outW - 8, average);
                    j = outW;
                }
                else if (path != KernelPath.Scalar && outW >= 4) // 8 to 15 wide input rows (LeNet's second pool: 10)
                {
                    for (; j + 4 <= outW; j += 4)
                        RowSse(ref top, ref bottom, ref output, j, average);
                    if (j < outW) RowSse(ref top, ref bottom, ref output, outW - 4, average);
                    j = outW;
                }
                for (; j < outW; j++)
                {
                    float a = Unsafe.Add(ref top, 2 * j), b = Unsafe.Add(ref top, 2 * j + 1);
                    float c = Unsafe.Add(ref bottom, 2 * j), d = Unsafe.Add(ref bottom, 2 * j + 1);
                    // The same association as the vector lanes: vertical first, then the pair.
                    Unsafe.Add(ref output, j) = average ? ((a + c) + (b + d)) * 0.25f : MathF.Max(MathF.Max(a, c), MathF.Max(b, d));
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowAvx512(ref float top, ref float bottom, ref float output, int j, bool average)
    {
        var t0 = Vector512.LoadUnsafe(ref top, (nuint)(2 * j)); var t1 = Vector512.LoadUnsafe(ref top, (nuint)(2 * j + 16));
        var b0 = Vector512.LoadUnsafe(ref bottom, (nuint)(2 * j)); var b1 = Vector512.LoadUnsafe(ref bottom, (nuint)(2 * j + 16));
        var v0 = average ? t0 + b0 : Vector512.Max(t0, b0);
        var v1 = average ? t1 + b1 : Vector512.Max(t1, b1);
        var even = Avx512F.PermuteVar16x32x2(v0, s_even, v1);
        var odd = Avx512F.PermuteVar16x32x2(v0, s_odd, v1);
        var result = average ? (even + odd) * 0.25f : Vector512.Max(even, odd);
        result.StoreUnsafe(ref output, (nuint)j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowAvx2(ref float top, ref float bottom, ref float output, int j, bool average)
    {
        var t0 = Vector256.LoadUnsafe(ref top, (nuint)(2 * j)); var t1 = Vector256.LoadUnsafe(ref top, (nuint)(2 * j + 8));
        var b0 = Vector256.LoadUnsafe(ref bottom, (nuint)(2 * j)); var b1 = Vector256.LoadUnsafe(ref bottom, (nuint)(2 * j + 8));
        var v0 = average ? t0 + b0 : Vector256.Max(t0, b0);
        var v1 = average ? t1 + b1 : Vector256.Max(t1, b1);
        // Per 128-bit half, lanes 0 and 2 of v0 then of v1 (odd: 1 and 3): outputs 0 1 4 5 | 2 3 6 7.
        var even = Avx.Shuffle(v0, v1, 0b10_00_10_00);
        var odd = Avx.Shuffle(v0, v1, 0b11_01_11_01);
        var pairs = average ? (even + odd) * 0.25f : Vector256.Max(even, odd);
        // Swap the middle 64-bit quarters to put the outputs in order.
        Avx2.Permute4x64(pairs.AsDouble(), 0b11_01_10_00).AsSingle().StoreUnsafe(ref output, (nuint)j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowSse(ref float top, ref float bottom, ref float output, int j, bool average)
    {
        var t0 = Vector128.LoadUnsafe(ref top, (nuint)(2 * j)); var t1 = Vector128.LoadUnsafe(ref top, (nuint)(2 * j + 4));
        var b0 = Vector128.LoadUnsafe(ref bottom, (nuint)(2 * j)); var b1 = Vector128.LoadUnsafe(ref bottom, (nuint)(2 * j + 4));
        var v0 = average ? t0 + b0 : Vector128.Max(t0, b0);
        var v1 = average ? t1 + b1 : Vector128.Max(t1, b1);
        var even = Sse.Shuffle(v0, v1, 0b10_00_10_00); // lanes 0, 2 of v0 then of v1: already in output order
        var odd = Sse.Shuffle(v0, v1, 0b11_01_11_01);
        (average ? (even + odd) * 0.25f : Vector128.Max(even, odd)).StoreUnsafe(ref output, (nuint)j);
    }

    /// <summary>
    /// Max pooling backward, written (not added) into gx: each output's gradient goes to its window's
    /// first tap equal to the output (row-major), or to its first NaN; every other element of gx, the odd
    /// trailing row and column included, is zero.
    /// </summary>
    public static void MaxBackward(float[] x, float[] y, float[] gy, float[] gx, int first, int last, int height, int width, KernelPath path)
    {
        int outH = height / 2, outW = width / 2;
        for (int p = first; p < last; p++)
        {
            for (int oh = 0; oh < outH; oh++)
            {
                int top = (p * height + 2 * oh) * width, bottom = top + width, o = (p * outH + oh) * outW;
                int j = 0;
                if (path != KernelPath.Scalar && outW >= 4)
                {
                    for (; j + 4 <= outW; j += 4)
                        MaxBackwardAvx2(ref x[top], ref x[bottom], ref y[o], ref gy[o], ref gx[top], ref gx[bottom], j);
                    // Overlapping last block: gx is written, not added to, so writing it twice is harmless.
                    if (j < outW) MaxBackwardAvx2(ref x[top], ref x[bottom], ref y[o], ref gy[o], ref gx[top], ref gx[bottom], outW - 4);
                    j = outW;
                }
                for (; j < outW; j++)
                {
                    float best = y[o + j], g = gy[o + j];
                    int a = top + 2 * j, c = bottom + 2 * j;
                    int at = Matches(x[a], best) ? a : Matches(x[a + 1], best) ? a + 1 : Matches(x[c], best) ? c : Matches(x[c + 1], best) ? c + 1 : -1;
                    gx[a] = 0f; gx[a + 1] = 0f; gx[c] = 0f; gx[c + 1] = 0f;
                    if (at >= 0) gx[at] = g;
                }
                ClearOddColumn(gx, top, bottom, width);
            }
            if (height % 2 == 1) Array.Clear(gx, (p * height + height - 1) * width, width);
        }
    }

    /// <summary>Average pooling backward, written (not added) into gx: every element of a window gets gy / 4.</summary>
    public static void AvgBackward(float[] gy, float[] gx, int first, int last, int height, int width, KernelPath path)
    {
        int outH = height / 2, outW = width / 2;
        for (int p = first; p < last; p++)
        {
            for (int oh = 0; oh < outH; oh++)
            {
                int top = (p * height + 2 * oh) * width, bottom = top + width, o = (p * outH + oh) * outW;
                int j = 0;
                if (path != KernelPath.Scalar && outW >= 4)
                {
                    for (; j + 4 <= outW; j += 4) AvgBackwardAvx2(ref gy[o], ref gx[top], ref gx[bottom], j);
                    if (j < outW) AvgBackwardAvx2(ref gy[o], ref gx[top], ref gx[bottom], outW - 4);
                    j = outW;
                }
                for (; j < outW; j++)
                {
                    float share = gy[o + j] * 0.25f;
                    gx[top + 2 * j] = share; gx[top + 2 * j + 1] = share;
                    gx[bottom + 2 * j] = share; gx[bottom + 2 * j + 1] = share;
                }
                ClearOddColumn(gx, top, bottom, width);
            }
            if (height % 2 == 1) Array.Clear(gx, (p * height + height - 1) * width, width);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AvgBackwardAvx2(ref float gy, ref float gxTop, ref float gxBottom, int j)
    {
        var share = Pairs(ref gy, j) * 0.25f;
        share.StoreUnsafe(ref gxTop, (nuint)(2 * j));
        share.StoreUnsafe(ref gxBottom, (nuint)(2 * j));
    }

    private static void ClearOddColumn(float[] gx, int top, int bottom, int width)
    {
        if (width % 2 == 0) return;
        gx[top + width - 1] = 0f;
        gx[bottom + width - 1] = 0f;
    }

    // y was computed from these taps, so a NaN tap means a NaN output: no need to test the output too.
    private static bool Matches(float tap, float best) => tap == best || float.IsNaN(tap);

    private static readonly Vector256<int> s_pairIndex = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
    private static readonly Vector256<float> s_oddLanes = Vector256.Create(0, -1, 0, -1, 0, -1, 0, -1).AsSingle();

    // Four values v[j .. j+4) each repeated twice: the gradient or output of each window beside its two columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pairs(ref float v, int j) =>
        Avx2.PermuteVar8x32(Vector128.LoadUnsafe(ref v, (nuint)j).ToVector256Unsafe(), s_pairIndex);

    // Four windows: lanes 2i (left tap) and 2i + 1 (right tap) of each row. A tap takes the gradient when it
    // matches and no tap before it (row-major) does: the left tap before the right, the top row before the bottom.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxBackwardAvx2(ref float top, ref float bottom, ref float y, ref float gy, ref float gxTop, ref float gxBottom, int j)
    {
        var best = Pairs(ref y, j);
        var g = Pairs(ref gy, j);
        var t = Vector256.LoadUnsafe(ref top, (nuint)(2 * j));
        var b = Vector256.LoadUnsafe(ref bottom, (nuint)(2 * j));
        var matchTop = Vector256.Equals(t, best) | ~Vector256.Equals(t, t);
        var matchBottom = Vector256.Equals(b, best) | ~Vector256.Equals(b, b);
        var swappedTop = Avx.Permute(matchTop, 0b10_11_00_01);       // each lane's pair partner
        var swappedBottom = Avx.Permute(matchBottom, 0b10_11_00_01);
        var firstTop = Vector256.AndNot(matchTop, swappedTop & s_oddLanes);
        var firstBottom = Vector256.AndNot(Vector256.AndNot(matchBottom, swappedBottom & s_oddLanes), matchTop | swappedTop);
        (g & firstTop).StoreUnsafe(ref gxTop, (nuint)(2 * j));
        (g & firstBottom).StoreUnsafe(ref gxBottom, (nuint)(2 * j));
    }
}
