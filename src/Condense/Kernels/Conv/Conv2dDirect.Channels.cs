// The forward pass on channels-in-lanes tiles (ConvKernel.Avx512Channels.cs): per panel of 32 output channels,
// K block by K block, tiles of up to 12 positions of one output row sweep the padded image, keeping their partial
// sums in a positions × 32 buffer. A tile's last K block is its final sum: it is then transposed straight into the
// NCHW output (ChannelTileOutput), with the residual Add and Relu applied there while it is still in L1 (no output
// buffer, no separate epilogue pass). Each output row is cut into equal runs of at most 12 positions, so no lane
// computes a dropped position.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    [ThreadStatic] private static float[]? t_channelTiles;

    /// <summary>Taps per output from which the channel tiles beat the pixel tiles (measured on ResNet-18's convolutions).</summary>
    private const int ChannelTilesMinTaps = 256;

    /// <summary>
    /// True when the forward pass runs on channels-in-lanes tiles: AVX-512, whole panels of 32 output channels, enough taps
    /// per output that the final transpose is cheap, and no accumulation (the input gradient keeps the pixel tiles).
    /// </summary>
    private static bool UsesChannelTiles(Conv2dGeometry g, bool accumulate) =>
        TKernel.Path == KernelPath.Avx512 && !accumulate && g.OutPerGroup % ConvKernelAvx512Channels.Channels == 0
        && g.ColumnRows >= ChannelTilesMinTaps;

    /// <summary>
    /// Rows r0..r1 (multiples of 32) of the group's output y (M/g, OH, OW): conv + bias, then + residual (same layout;
    /// may be null), then max(0, ·) when <paramref name="relu"/>.
    /// </summary>
    private static void ChannelTiles(Conv2dGeometry g, PhaseSplitImage l, float* w, int* offsets, int group, float* padded, float* bias,
        float* y, float* residual, bool relu, int r0, int r1)
    {
        const int channels = ConvKernelAvx512Channels.Channels;
        int k = g.ColumnRows, mg = g.OutPerGroup, oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq, pixels = g.OutPixels;
        // Each output row in equal runs of at most MaxPositions positions.
        int runs = (ow + ConvKernelAvx512Channels.MaxPositions - 1) / ConvKernelAvx512Channels.MaxPositions;
        // Partial sums of every position between K blocks (K ≥ ChannelTilesMinTaps > KC: always several).
        float* tiles = Buffer(ref t_channelTiles, (pixels + ChannelTileOutput.ReadRows) * channels);
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
}
