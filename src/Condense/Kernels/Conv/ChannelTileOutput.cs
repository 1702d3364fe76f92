// The write-out of a finished channels-in-lanes tile (Conv2dDirect.Channels.cs): the tile holds n ≤ 12 output
// positions × 32 output channels, position-major; the NCHW output wants each channel's n positions contiguous. Each
// half of 16 channels is read as 16 rows (positions; rows past n are ignored), transposed in registers (the usual
// unpack / shuffle / 128-bit-lane-shuffle network, 64 shuffles per 16 × 16 block) and written as one masked store per
// channel, after the residual Add and the Relu of a fused Conv → Add → Relu, in the order the separate ops compute
// them (y = conv, y = y + residual, y = max(y, 0)), so the fused result has their bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>Transposes a finished 32-channel tile into NCHW rows, with the optional residual Add and Relu.</summary>
internal static unsafe class ChannelTileOutput
{
    /// <summary>Rows a tile must have readable: the transpose reads 16 whatever the positions.</summary>
    public const int ReadRows = 16;

    /// <summary>
    /// y[i·stride + j] = epilogue(tile[j·32 + i]) for i &lt; 32, j &lt; <paramref name="positions"/> ≤ 16; the epilogue adds
    /// residual[i·stride + j] (when not null) and then takes max(·, 0) (when <paramref name="relu"/>). The tile must have
    /// <see cref="ReadRows"/> readable rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Write(float* tile, int positions, float* y, int stride, float* residual, bool relu)
    {
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(positions)).AsSingle();
        Half(tile, mask, y, stride, residual, relu);
        Half(tile + 16, mask, y + 16L * stride, stride, residual is null ? null : residual + 16L * stride, relu);
    }

    // Channels 0..15 of the rows at tile (row stride 32).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Half(float* tile, Vector512<float> mask, float* y, int stride, float* residual, bool relu)
    {
        const int ld = ConvKernelAvx512Channels.Channels;
        // 32-bit interleave of row pairs, then 64-bit: u[4b + c] holds, in 128-bit lane L, rows 4b..4b+3 of channel 4L + c.
        var t0 = Avx512F.UnpackLow(Vector512.Load(tile + 0 * ld), Vector512.Load(tile + 1 * ld));
        var t1 = Avx512F.UnpackHigh(Vector512.Load(tile + 0 * ld), Vector512.Load(tile + 1 * ld));
        var t2 = Avx512F.UnpackLow(Vector512.Load(tile + 2 * ld), Vector512.Load(tile + 3 * ld));
        var t3 = Avx512F.UnpackHigh(Vector512.Load(tile + 2 * ld), Vector512.Load(tile + 3 * ld));
        var t4 = Avx512F.UnpackLow(Vector512.Load(tile + 4 * ld), Vector512.Load(tile + 5 * ld));
        var t5 = Avx512F.UnpackHigh(Vector512.Load(tile + 4 * ld), Vector512.Load(tile + 5 * ld));
        var t6 = Avx512F.UnpackLow(Vector512.Load(tile + 6 * ld), Vector512.Load(tile + 7 * ld));
        var t7 = Avx512F.UnpackHigh(Vector512.Load(tile + 6 * ld), Vector512.Load(tile + 7 * ld));
        var t8 = Avx512F.UnpackLow(Vector512.Load(tile + 8 * ld), Vector512.Load(tile + 9 * ld));
        var t9 = Avx512F.UnpackHigh(Vector512.Load(tile + 8 * ld), Vector512.Load(tile + 9 * ld));
        var t10 = Avx512F.UnpackLow(Vector512.Load(tile + 10 * ld), Vector512.Load(tile + 11 * ld));
        var t11 = Avx512F.UnpackHigh(Vector512.Load(tile + 10 * ld), Vector512.Load(tile + 11 * ld));
        var t12 = Avx512F.UnpackLow(Vector512.Load(tile + 12 * ld), Vector512.Load(tile + 13 * ld));
        var t13 = Avx512F.UnpackHigh(Vector512.Load(tile + 12 * ld), Vector512.Load(tile + 13 * ld));
        var t14 = Avx512F.UnpackLow(Vector512.Load(tile + 14 * ld), Vector512.Load(tile + 15 * ld));
        var t15 = Avx512F.UnpackHigh(Vector512.Load(tile + 14 * ld), Vector512.Load(tile + 15 * ld));
        // c = 0, 1 from the low interleaves, c = 2, 3 from the high ones.
        Quad(Avx512F.Shuffle(t0, t2, 0x44), Avx512F.Shuffle(t4, t6, 0x44), Avx512F.Shuffle(t8, t10, 0x44), Avx512F.Shuffle(t12, t14, 0x44),
            mask, y, stride, residual, relu);
        Quad(Avx512F.Shuffle(t0, t2, 0xEE), Avx512F.Shuffle(t4, t6, 0xEE), Avx512F.Shuffle(t8, t10, 0xEE), Avx512F.Shuffle(t12, t14, 0xEE),
            mask, y + stride, stride, residual is null ? null : residual + stride, relu);
        Quad(Avx512F.Shuffle(t1, t3, 0x44), Avx512F.Shuffle(t5, t7, 0x44), Avx512F.Shuffle(t9, t11, 0x44), Avx512F.Shuffle(t13, t15, 0x44),
            mask, y + 2L * stride, stride, residual is null ? null : residual + 2L * stride, relu);
        Quad(Avx512F.Shuffle(t1, t3, 0xEE), Avx512F.Shuffle(t5, t7, 0xEE), Avx512F.Shuffle(t9, t11, 0xEE), Avx512F.Shuffle(t13, t15, 0xEE),
            mask, y + 3L * stride, stride, residual is null ? null : residual + 3L * stride, relu);
    }

    // u0, u4, u8, u12 of one c: their 128-bit lanes L gathered give channel 4L + c (y here points at channel c).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quad(Vector512<float> u0, Vector512<float> u4, Vector512<float> u8, Vector512<float> u12, Vector512<float> mask,
        float* y, int stride, float* residual, bool relu)
    {
        var w0 = Avx512F.Shuffle4x128(u0, u4, 0x88); // lanes 0, 2 of u0, then of u4
        var w1 = Avx512F.Shuffle4x128(u0, u4, 0xDD); // lanes 1, 3
        var w2 = Avx512F.Shuffle4x128(u8, u12, 0x88);
        var w3 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        Store(Avx512F.Shuffle4x128(w0, w2, 0x88), mask, y, residual, relu);                     // lane 0: channel c
        Store(Avx512F.Shuffle4x128(w1, w3, 0x88), mask, y + 4L * stride, residual is null ? null : residual + 4L * stride, relu);
        Store(Avx512F.Shuffle4x128(w0, w2, 0xDD), mask, y + 8L * stride, residual is null ? null : residual + 8L * stride, relu);
        Store(Avx512F.Shuffle4x128(w1, w3, 0xDD), mask, y + 12L * stride, residual is null ? null : residual + 12L * stride, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> v, Vector512<float> mask, float* y, float* residual, bool relu)
    {
        if (residual is not null) v += Avx512F.MaskLoad(residual, mask, Vector512<float>.Zero);
        if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
        Avx512F.MaskStore(y, mask, v);
    }
}
