// The forward pass on channels-in-lanes tiles (ConvKernel.Avx512Channels.cs): per panel of 32 output channels,
// K block by K block, 12-position tiles sweep the padded image into a positions × 32 buffer, which is then
// transposed into the channel rows that the pixel tiles would have written (Conv2dDirect.Forward.cs copies them
// out). Used on AVX-512 when the group's output channels are a multiple of 32 and no output is accumulated.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    [ThreadStatic] private static float[]? t_channelTiles;

    /// <summary>True when the forward pass runs on channels-in-lanes tiles.</summary>
    private static bool UsesChannelTiles(Conv2dGeometry g, bool accumulate) =>
        TKernel.Path == KernelPath.Avx512 && !accumulate && g.OutPerGroup % ConvChannelsAvx512.Channels == 0
        && Environment.GetEnvironmentVariable("CHAN") == "1";

    /// <summary>Rows r0..r1 (multiples of 32) of the group's output into <paramref name="output"/> (row stride <paramref name="stride"/>).</summary>
    private static void ChannelTiles(Conv2dGeometry g, PhaseSplitImage l, float* w, int* offsets, int group, float* padded, float* bias,
        float* output, int stride, int r0, int r1)
    {
        const int channels = ConvChannelsAvx512.Channels, tile = ConvChannelsAvx512.Positions;
        int k = g.ColumnRows, mg = g.OutPerGroup, positions = l.Positions;
        int covered = (positions + tile - 1) / tile * tile;
        float* tiles = Buffer(ref t_channelTiles, (long)covered * channels);
        for (int r = r0; r < r1; r += channels)
        {
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float* a = w + ((long)group * mg + r) * k + (long)pc * channels;
                for (int q = 0; q < positions; q += tile)
                    ConvChannelsAvx512.Run(kc, a, padded + q, offsets + pc, tiles + (long)q * channels, bias is null ? null : bias + r, pc > 0);
            }
            for (int i = 0; i < channels; i++)
            {
                float* row = output + (long)(r + i) * stride;
                for (int q = 0; q < positions; q++) row[q] = tiles[(long)q * channels + i];
            }
        }
    }
}
