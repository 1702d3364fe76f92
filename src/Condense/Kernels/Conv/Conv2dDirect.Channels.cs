// The forward pass on channels-in-lanes tiles (ConvKernel.Avx512Channels.cs): per panel of 32 output channels,
// K block by K block, tiles of up to 12 positions of one output row sweep the padded image, keeping their partial
// sums in a positions × 32 buffer. A tile's last K block is its final sum: it is then transposed straight into the
// NCHW output (ChannelTileOutput), with the residual Add and Relu applied there while it is still in L1 (no output
// buffer, no separate epilogue pass). Each output row is cut into equal runs of at most 12 positions, so no lane
// computes a dropped position. On AVX2 (ConvKernel.Avx2Channels.cs) a panel is 16 channels, its runs of at most 6 kept
// positions may cross output rows (PositionBases), and the panel is transposed once, after its last K block
// (ChannelRowsOutput).
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    [ThreadStatic] private static float[]? t_channelTiles;

    /// <summary>Taps per output from which the AVX-512 channel tiles beat the pixel tiles (measured on ResNet-18's convolutions).</summary>
    private const int ChannelTilesMinTaps = 256;

    [ThreadStatic] private static int[]? t_bases;

    /// <summary>
    /// True when the forward pass runs on channels-in-lanes tiles, with no accumulation (the input gradient keeps the pixel
    /// tiles): on AVX-512, whole panels of 32 output channels and enough taps per output that the final transpose is cheap; on
    /// AVX2, whole panels of 16 (they were as fast or faster at every shape of the `conv` benchmark) unless switched off.
    /// </summary>
    private static bool UsesChannelTiles(Conv2dGeometry g, bool accumulate) => !accumulate && TKernel.Path switch
    {
        KernelPath.Avx512 => g.OutPerGroup % ConvKernelAvx512Channels.Channels == 0 && g.ColumnRows >= ChannelTilesMinTaps,
        KernelPath.Avx2 => g.OutPerGroup % ConvKernelAvx2Channels.Channels == 0 && Conv2dKernel.Avx2ChannelTiles,
        _ => false,
    };

    /// <summary>Output channels per channel tile on this kernel's instruction set.</summary>
    private static int ChannelTileRows => TKernel.Path == KernelPath.Avx2 ? ConvKernelAvx2Channels.Channels : ConvKernelAvx512Channels.Channels;

    /// <summary>
    /// bases[p] = where kept output position p = oy·OW + ox starts its window in the padded image (q = oy·Wq + ox,
    /// Conv2dDirect.cs), for the AVX2 tiles; null on AVX-512, whose runs stay within one output row. Valid until the
    /// thread's next call.
    /// </summary>
    private static int[]? PositionBases(Conv2dGeometry g, PhaseSplitImage l)
    {
        if (TKernel.Path != KernelPath.Avx2) return null;
        int pixels = g.OutPixels, ow = g.OutWidth;
        if (t_bases is null || t_bases.Length < pixels) t_bases = GC.AllocateUninitializedArray<int>(pixels, pinned: true);
        for (int oy = 0, p = 0; oy < g.OutHeight; oy++)
            for (int ox = 0; ox < ow; ox++) t_bases[p++] = oy * l.Wq + ox;
        return t_bases;
    }

    /// <summary>
    /// Rows r0..r1 (multiples of the tile's channels) of the group's output y (M/g, OH, OW): conv + bias, then + residual
    /// (same layout; may be null), then max(0, ·) when <paramref name="relu"/>.
    /// </summary>
    private static void ChannelTiles(Conv2dGeometry g, PhaseSplitImage l, float* w, int* offsets, int* bases, int group, float* padded,
        float* bias, float* y, float* residual, bool relu, int r0, int r1)
    {
        if (TKernel.Path == KernelPath.Avx2) { ChannelTilesAvx2(g, w, offsets, bases, group, padded, bias, y, residual, relu, r0, r1); return; }
        const int channels = ConvKernelAvx512Channels.Channels;
        int k = g.ColumnRows, mg = g.OutPerGroup, oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq, pixels = g.OutPixels;
        // Each output row in equal runs of at most MaxPositions positions.
        int runs = (ow + ConvKernelAvx512Channels.MaxPositions - 1) / ConvKernelAvx512Channels.MaxPositions;
        // Partial sums of every position between K blocks (K ≥ ChannelTilesMinTaps > KC: always several).
        float* tiles = AlignedBuffer.Of(ref t_channelTiles, (pixels + ChannelTileOutput.ReadRows) * channels);
        for (int r = r0; r < r1; r += channels)
        {
            long rowStart = (long)r * pixels;
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool last = pc + kc == k;
                float* a = w + ((long)group * mg + r) * k + (long)pc * channels;
                for (int oy = 0; oy < oh; oy++)
                    for (int run = 0; run < runs; run++)
                    {
                        int x0 = ow * run / runs, x1 = ow * (run + 1) / runs, at = oy * ow + x0;
                        float* tile = tiles + (long)at * channels;
                        ConvKernelAvx512Channels.Run(x1 - x0, kc, a, padded + oy * wq + x0, offsets + pc, tile, bias is null ? null : bias + r, pc > 0);
                        if (last)
                            ChannelTileOutput.Write(tile, x1 - x0, y + rowStart + at, pixels, residual is null ? null : residual + rowStart + at, relu);
                    }
            }
        }
    }

    /// <summary>
    /// Rows r0..r1 (multiples of 16) on the AVX2 channel tiles: the kept positions of the whole image in equal runs of at
    /// most 6 (a run may span output rows), all K blocks summed into a pixels × 16 buffer, then transposed into y.
    /// </summary>
    private static void ChannelTilesAvx2(Conv2dGeometry g, float* w, int* offsets, int* bases, int group, float* padded, float* bias,
        float* y, float* residual, bool relu, int r0, int r1)
    {
        const int channels = ConvKernelAvx2Channels.Channels, most = ConvKernelAvx2Channels.MaxPositions;
        int k = g.ColumnRows, mg = g.OutPerGroup, pixels = g.OutPixels;
        int runs = (pixels + most - 1) / most;
        float* sums = AlignedBuffer.Of(ref t_channelTiles, (long)pixels * channels);
        for (int r = r0; r < r1; r += channels)
        {
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float* a = w + ((long)group * mg + r) * k + (long)pc * channels;
                for (int run = 0; run < runs; run++)
                {
                    int p0 = (int)((long)pixels * run / runs), p1 = (int)((long)pixels * (run + 1) / runs);
                    ConvKernelAvx2Channels.Run(p1 - p0, kc, a, padded, offsets + pc, bases + p0, sums + (long)p0 * channels,
                        bias is null ? null : bias + r, pc > 0);
                }
            }
            long rowStart = (long)r * pixels;
            ChannelRowsOutput.Write(sums, pixels, y + rowStart, pixels, residual is null ? null : residual + rowStart, relu);
        }
    }
}
