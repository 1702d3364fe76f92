// Layout conversions of uint8 images (and int32 sums) between NCHW, the layout of the graph and of the planar int8
// kernels, and NHWC (channels last), the layout of QConv2dNhwc and of the integer engine's codes between its
// convolutions. Each image is a (C × HW) ↔ (HW × C) transpose, done in blocks of 16 × 16 so that both sides are read
// and written a cache line at a time; codes are copied unchanged, so the conversion is exact.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Int8Conv;

/// <summary>NCHW ↔ NHWC transposes of uint8 codes and int32 sums.</summary>
public static unsafe class ChannelsLast
{
    private const int Block = 16;

    /// <summary>x (N, C, H·W) → y (N, H·W, C).</summary>
    public static void FromPlanar(ReadOnlySpan<byte> x, int batch, int channels, int pixels, Span<byte> y)
    {
        Check(x.Length, y.Length, batch, channels, pixels);
        fixed (byte* px = x, py = y) FromPlanar(px, batch, channels, pixels, py);
    }

    /// <summary>x (N, H·W, C) → y (N, C, H·W).</summary>
    public static void ToPlanar(ReadOnlySpan<byte> x, int batch, int channels, int pixels, Span<byte> y)
    {
        Check(x.Length, y.Length, batch, channels, pixels);
        fixed (byte* px = x, py = y) Transpose(px, batch, pixels, channels, py);
    }

    internal static void FromPlanar(byte* x, int batch, int channels, int pixels, byte* y)
    {
        if (channels == 3 && Ssse3.IsSupported) Interleave3(x, batch, pixels, y);
        else Transpose(x, batch, channels, pixels, y);
    }

    // Three planes (an RGB image) interleaved 16 pixels at a time: each 16-byte output block is three byte shuffles (pshufb,
    // lanes of other planes zeroed by an index with the high bit set) ORed together.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Interleave3(byte* x, int batch, int pixels, byte* y)
    {
        var shuffles = Interleave3Shuffles;
        for (int n = 0; n < batch; n++, x += 3L * pixels, y += 3L * pixels)
        {
            int p = 0;
            for (; p <= pixels - 16; p += 16)
            {
                var r = Vector128.Load(x + p); var g = Vector128.Load(x + pixels + p); var b = Vector128.Load(x + 2L * pixels + p);
                for (int block = 0; block < 3; block++)
                    (Ssse3.Shuffle(r, shuffles[3 * block]) | Ssse3.Shuffle(g, shuffles[3 * block + 1]) | Ssse3.Shuffle(b, shuffles[3 * block + 2]))
                        .Store(y + 3L * p + 16 * block);
            }
            for (; p < pixels; p++)
                for (int c = 0; c < 3; c++) y[3L * p + c] = x[(long)c * pixels + p];
        }
    }

    internal static void ToPlanar(byte* x, int batch, int channels, int pixels, byte* y) => Transpose(x, batch, pixels, channels, y);

    /// <summary>x (N, HW, C) int32 → y (N, C, HW).</summary>
    internal static void ToPlanar(int* x, int batch, int channels, int pixels, int* y)
    {
        for (int n = 0; n < batch; n++, x += (long)pixels * channels, y += (long)pixels * channels)
            for (int r0 = 0; r0 < pixels; r0 += Block)
                for (int c0 = 0; c0 < channels; c0 += Block)
                    for (int r = r0; r < Math.Min(r0 + Block, pixels); r++)
                        for (int c = c0; c < Math.Min(c0 + Block, channels); c++) y[(long)c * pixels + r] = x[(long)r * channels + c];
    }

    // Shuffle 3·block + plane: output byte 16·block + lane = 3·pixel + channel takes lane `pixel` of plane `channel`.
    private static readonly Vector128<byte>[] Interleave3Shuffles = Enumerable.Range(0, 9).Select(i => Vector128.Create(
        Enumerable.Range(0, 16).Select(lane => (16 * (i / 3) + lane) % 3 == i % 3 ? (byte)((16 * (i / 3) + lane) / 3) : (byte)0x80).ToArray())).ToArray();

    // Each image: a (rows × cols) matrix to (cols × rows).
    private static void Transpose(byte* x, int batch, int rows, int cols, byte* y)
    {
        for (int n = 0; n < batch; n++, x += (long)rows * cols, y += (long)rows * cols)
            for (int r0 = 0; r0 < rows; r0 += Block)
                for (int c0 = 0; c0 < cols; c0 += Block)
                {
                    int r1 = Math.Min(r0 + Block, rows), c1 = Math.Min(c0 + Block, cols);
                    for (int c = c0; c < c1; c++)
                    {
                        byte* dst = y + (long)c * rows;
                        for (int r = r0; r < r1; r++) dst[r] = x[(long)r * cols + c];
                    }
                }
    }

    private static void Check(int xLength, int yLength, int batch, int channels, int pixels)
    {
        long size = (long)batch * channels * pixels;
        if (xLength < size || yLength < size)
            throw new ArgumentException($"the images hold {xLength} and {yLength} codes; (N, C, HW) = ({batch}, {channels}, {pixels}) needs {size}");
    }
}
