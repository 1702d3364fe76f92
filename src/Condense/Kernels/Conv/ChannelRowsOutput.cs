// The write-out of the AVX2 channels-in-lanes tiles (Conv2dDirect.Channels.cs): once a panel of 16 output channels has
// its final sums for every output position, held position-major (pixels × 16), it is transposed into the 16 NCHW
// channel rows, eight positions × eight channels at a time (GemmPack.Transpose8x8), the residual Add and the Relu of a
// fused Conv → Add → Relu applied on the way in the order the separate ops compute them (y = conv, y = y + residual,
// y = max(y, 0)), so the fused result has their bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.FloatGemm;

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
        float* block = stackalloc float[64];
        int p = 0;
        for (; p + 8 <= pixels; p += 8)
            for (int half = 0; half < Channels; half += 8)
            {
                long at = (long)half * stride + p;
                Block(sums + (long)p * Channels + half, y + at, stride, residual is null ? null : residual + at, relu, block);
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

    // Eight positions (rows of the sums, 16 apart) × eight channels, transposed (GemmPack.Transpose8x8) into eight channel
    // runs; with an epilogue, through block (64 floats), so that a residual that is the output itself is read first.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block(float* sums, float* y, int stride, float* residual, bool relu, float* block)
    {
        if (residual is null && !relu) { GemmPack.Transpose8x8(sums, Channels, y, stride); return; }
        GemmPack.Transpose8x8(sums, Channels, block, 8);
        for (int i = 0; i < 8; i++) Store(Vector256.Load(block + 8 * i), y + (long)i * stride, Offset(residual, (long)i * stride), relu);
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
