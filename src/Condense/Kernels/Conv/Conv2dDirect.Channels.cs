// The forward pass on channels-in-lanes tiles (ConvKernel.Avx512Channels.cs): per panel of 32 output channels,
// K block by K block, 12-position tiles sweep the padded image into a positions × 32 buffer, which is then
// transposed into the channel rows that the pixel tiles would have written (Conv2dDirect.Forward.cs copies them
// out). Each output row is cut into equal runs of at most 12 positions, so no lane computes a dropped position.
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
        TKernel.Path == KernelPath.Avx512 && !accumulate && g.OutPerGroup % ConvChannelsAvx512.Channels == 0
        && g.ColumnRows >= ChannelTilesMinTaps;

    /// <summary>Rows r0..r1 (multiples of 32) of the group's output into <paramref name="output"/> (row stride <paramref name="stride"/>).</summary>
    private static void ChannelTiles(Conv2dGeometry g, PhaseSplitImage l, float* w, int* offsets, int group, float* padded, float* bias,
        float* output, int stride, int r0, int r1)
    {
        const int channels = ConvChannelsAvx512.Channels;
        int k = g.ColumnRows, mg = g.OutPerGroup, oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq;
        // Each output row in equal runs of at most MaxPositions positions.
        int runs = (ow + ConvChannelsAvx512.MaxPositions - 1) / ConvChannelsAvx512.MaxPositions;
        float* tiles = Buffer(ref t_channelTiles, (long)g.OutPixels * channels);
        for (int r = r0; r < r1; r += channels)
        {
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float* a = w + ((long)group * mg + r) * k + (long)pc * channels;
                for (int oy = 0; oy < oh; oy++)
                    for (int run = 0; run < runs; run++)
                    {
                        int x0 = ow * run / runs, x1 = ow * (run + 1) / runs;
                        ConvChannelsAvx512.Run(x1 - x0, kc, a, padded + oy * wq + x0, offsets + pc, tiles + ((long)oy * ow + x0) * channels,
                            bias is null ? null : bias + r, pc > 0);
                    }
            }
            // Position by position, so the tiles are read in order and each channel row is written in order.
            float* rows = output + (long)r * stride;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    float* tile = tiles + ((long)oy * ow + ox) * channels, at = rows + oy * wq + ox;
                    for (int i = 0; i < channels; i++) at[(long)i * stride] = tile[i];
                }
        }
    }
}
