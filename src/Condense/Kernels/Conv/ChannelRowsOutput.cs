// The write-out of the AVX2 channels-in-lanes tiles (Conv2dDirect.Channels.cs): once a panel of 16 output channels has
// its final sums for every output position, held position-major (pixels × 16), it is transposed into the 16 NCHW
// channel rows, eight positions × eight channels at a time (the usual unpack / shuffle / 128-bit-lane-permute network,
// 24 shuffles per 8 × 8 block), the residual Add and the Relu of a fused Conv → Add → Relu applied on the way in the
// order the separate ops compute them (y = conv, y = y + residual, y = max(y, 0)), so the fused result has their bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>Transposes position-major sums of 16 channels into NCHW rows, with the optional residual Add and Relu.</summary>
internal static unsafe class ChannelRowsOutput
{
    /// <summary>Channels per position in the sums.</summary>
    public const int Channels = 16;

    /// <summary>
    /// y[i·stride + p] = epilogue(sums[p·16 + i]) for i &lt; 16, p &lt; <paramref name="pixels"/>; the epilogue adds
    /// residual[i·stride + p] (when not null) and then takes max(·, 0) (when <paramref name="relu"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Write(float* sums, int pixels, float* y, int stride, float* residual, bool relu)
    {
        int p = 0;
        for (; p + 8 <= pixels; p += 8)
            for (int half = 0; half < Channels; half += 8)
            {
                long at = (long)half * stride + p;
                Block(sums + (long)p * Channels + half, y + at, stride, residual is null ? null : residual + at, relu);
            }
        for (; p < pixels; p++)
            for (int i = 0; i < Channels; i++)
            {
                long at = (long)i * stride + p;
                float v = sums[(long)p * Channels + i];
                if (residual is not null) v += residual[at];
                y[at] = relu ? MathF.Max(v, 0f) : v;
            }
    }

    // Eight positions (rows of the sums, 16 apart) × eight channels, transposed and written as eight channel runs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block(float* sums, float* y, int stride, float* residual, bool relu)
    {
        const int ld = Channels;
        var t0 = Avx.UnpackLow(Vector256.Load(sums + 0 * ld), Vector256.Load(sums + 1 * ld));
        var t1 = Avx.UnpackHigh(Vector256.Load(sums + 0 * ld), Vector256.Load(sums + 1 * ld));
        var t2 = Avx.UnpackLow(Vector256.Load(sums + 2 * ld), Vector256.Load(sums + 3 * ld));
        var t3 = Avx.UnpackHigh(Vector256.Load(sums + 2 * ld), Vector256.Load(sums + 3 * ld));
        var t4 = Avx.UnpackLow(Vector256.Load(sums + 4 * ld), Vector256.Load(sums + 5 * ld));
        var t5 = Avx.UnpackHigh(Vector256.Load(sums + 4 * ld), Vector256.Load(sums + 5 * ld));
        var t6 = Avx.UnpackLow(Vector256.Load(sums + 6 * ld), Vector256.Load(sums + 7 * ld));
        var t7 = Avx.UnpackHigh(Vector256.Load(sums + 6 * ld), Vector256.Load(sums + 7 * ld));
        // s_c (c = 0..3) holds channel c (low lane) and c + 4 (high lane) of four positions; s_{c+4} the next four.
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Store(Avx.Permute2x128(s0, s4, 0x20), y, residual, relu);
        Store(Avx.Permute2x128(s1, s5, 0x20), y + stride, Offset(residual, stride), relu);
        Store(Avx.Permute2x128(s2, s6, 0x20), y + 2L * stride, Offset(residual, 2L * stride), relu);
        Store(Avx.Permute2x128(s3, s7, 0x20), y + 3L * stride, Offset(residual, 3L * stride), relu);
        Store(Avx.Permute2x128(s0, s4, 0x31), y + 4L * stride, Offset(residual, 4L * stride), relu);
        Store(Avx.Permute2x128(s1, s5, 0x31), y + 5L * stride, Offset(residual, 5L * stride), relu);
        Store(Avx.Permute2x128(s2, s6, 0x31), y + 6L * stride, Offset(residual, 6L * stride), relu);
        Store(Avx.Permute2x128(s3, s7, 0x31), y + 7L * stride, Offset(residual, 7L * stride), relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Offset(float* residual, long by) => residual is null ? null : residual + by;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> v, float* y, float* residual, bool relu)
    {
        if (residual is not null) v += Vector256.Load(residual);
        if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
        v.Store(y);
    }
}
