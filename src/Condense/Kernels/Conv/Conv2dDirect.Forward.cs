// The direct convolution's forward pass (the layout is described in Conv2dDirect.cs). Work units are
// (image, group, block of channel-row panels): with fewer images than threads each image's output channels are
// split over the threads, so a single image uses every core; every output value is still summed by the same
// tile call in the same order, so the bits never depend on the thread count. Two loop orders over one unit:
//   image-resident (the padded image fits the L2 budget and the weights need several K blocks): panel → K block →
//     position tile, so each weight block is read from memory once and stays in L1 while the tiles sweep the image in
//     L2 (deep layers: 512 channels of 7×7 carry 9 MiB of weights and a 0.2 MiB image);
//   weight-resident (large images, or weights of one K block): position tile → K block → panel, the tile's taps stay
//     in L1 and the weights in L2 (early layers: 64 channels of 56×56), and each output row is written whole. With one
//     K block the image-resident order saves no weight reads, and its tile-by-tile write-out, 12 channels × 32 positions
//     in short pieces of rows, ran slower (`bench conv --forward`, Zen 5, alternating runs: resnet-mini's 1 → 16 stem
//     at batch 256 0.49–0.51 → 0.35–0.37 ms, its 16 → 32 stride-2 layer 1.69–2.11 → 1.65–2.02, LeNet-5's layers 6–8 %).
// Image-resident tiles are written into y right after their last K block, while in L1 (PixelTileOutput, or
// ChannelTileOutput for the channel tiles), weight-resident ones a strip at a time, with the epilogue
// y = max(0, conv + b + residual) when asked, in the order the separate Add and Relu ops would compute it, so a fused
// graph gives the same bits as the unfused one.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    /// <summary>Padded images up to this many bytes run image-resident (half of a 1 MiB L2, the rest for tiles and weights).</summary>
    private const long ImageResidentBytes = 512 * 1024;

    /// <summary>Bytes of output a weight-resident strip holds (all its channel rows), in L2 beside the image.</summary>
    private const int StripBytes = 96 * 1024;

    [ThreadStatic] private static ForwardJob? t_forward;
    /// <summary>
    /// Rows per pixel-tile panel: the output channels in as few panels as the tile allows, of equal height (64 channels run
    /// as 11 × 5 + 9 rather than 12 × 5 + 4, a panel that is mostly loads, and two threads splitting one image's six panels
    /// then get 33 and 31 channels rather than 36 and 28: ResNet-18's 7×7 stem at batch 1 0.56–0.60 → 0.52–0.53 ms).
    /// </summary>
    private static int PixelPanelRows(int channels)
    {
        int panels = (channels + TKernel.MaxRows - 1) / TKernel.MaxRows;
        return Math.Max(1, (channels + panels - 1) / panels);
    }

    /// <summary>Tiles per weight-resident strip: about <see cref="StripBytes"/> of the group's output channels, at least one.</summary>
    private static int StripTiles(Conv2dGeometry g) => Math.Max(1, StripBytes / (g.OutPerGroup * TKernel.NR * sizeof(float)));

    /// <summary>
    /// y (N, M, OH, OW) = conv(x, w) + b, or y += conv(x, w) when <paramref name="accumulate"/> (b null); then
    /// y += residual (same shape as y) when <paramref name="residual"/> is not null, then y = max(0, y) when
    /// <paramref name="relu"/>. With <paramref name="prepacked"/>, w is packed once there and reused.
    /// </summary>
    public static void Forward(Conv2dGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, int threads,
        float* residual = null, bool relu = false, Conv2dPackedWeights? prepacked = null)
    {
        long items = (long)g.Batch * g.Groups;
        if (items == 0) return;
        var layout = new PhaseSplitImage(g, g.InPerGroup);
        bool channelTiles = UsesChannelTiles(g, accumulate);
        int panelRows = channelTiles ? ChannelTileRows : PixelPanelRows(g.OutPerGroup);
        float* packed = PackWeights(g, w, panelRows, prepacked, out var holder);
        int panels = (g.OutPerGroup + panelRows - 1) / panelRows;
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items * panels);
        // Split an item's panels only when whole items would leave threads idle or unevenly loaded.
        int split = parts > 1 && items % parts != 0 && items < 4L * parts ? Math.Min(parts, panels) : 1;
        var job = t_forward ??= new ForwardJob();
        fixed (int* offsets = TapOffsets(g, layout), bases = channelTiles ? PositionBases(g, layout) : null)
        {
            job.Set(g, layout, x, packed, offsets, bases, bias, y, residual, accumulate, relu, items, split, parts, panelRows, channelTiles);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
        GC.KeepAlive(holder);
    }

    /// <summary>Forward units (image, group, panel block); part p takes a contiguous run.</summary>
    private sealed class ForwardJob : IParallelJob
    {
        [ThreadStatic] private static float[]? t_padded, t_out;

        private Conv2dGeometry _g = null!;
        private PhaseSplitImage _layout;
        private int _parts, _split, _panelRows;
        private long _items;
        private bool _accumulate, _relu, _channelTiles;
        private float* _x, _w, _bias, _y, _residual;
        private int* _offsets, _bases;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, float* x, float* w, int* offsets, int* bases, float* bias, float* y,
            float* residual, bool accumulate, bool relu, long items, int split, int parts, int panelRows, bool channelTiles)
        {
            (_g, _layout, _accumulate, _relu, _items, _split, _parts) = (g, layout, accumulate, relu, items, split, parts);
            (_panelRows, _channelTiles) = (panelRows, channelTiles);
            _x = x; _w = w; _offsets = offsets; _bases = bases; _bias = bias; _y = y; _residual = residual;
        }

        public void Clear() { _x = _w = _bias = _y = _residual = null; _offsets = _bases = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int nr = TKernel.NR, mg = g.OutPerGroup, panelRows = _panelRows, panels = (mg + panelRows - 1) / panelRows;
            int stride = l.PaddedPositions(nr);
            float* padded = AlignedBuffer.Of(ref t_padded, l.Length(nr));
            bool imageResident = l.Length(nr) * sizeof(float) <= ImageResidentBytes && g.ColumnRows > KC;
            // Pixel tiles sum into a panel's rows × positions (image-resident) or all rows × a strip of tiles (weight-resident).
            float* tiles = _channelTiles ? null : AlignedBuffer.Of(ref t_out, imageResident ? (long)TKernel.MaxRows * stride : (long)mg * StripTiles(g) * nr);
            new Span<float>(padded, checked((int)l.Length(nr))).Clear(); // every item writes the same interior: the border stays zero
            long units = _items * _split, u0 = units * part / _parts, u1 = units * (part + 1) / _parts, copied = -1;
            for (long unit = u0; unit < u1; unit++)
            {
                long item = unit / _split;
                int block = (int)(unit % _split), group = (int)(item % g.Groups), n = (int)(item / g.Groups);
                int r0 = panels * block / _split * panelRows, r1 = Math.Min(mg, panels * (block + 1) / _split * panelRows);
                long first = (long)n * g.OutChannels + (long)group * mg;
                if (item != copied) PhaseSplitCopy.Copy(g, l, _x + ((long)n * g.InChannels + (long)group * g.InPerGroup) * g.InPixels, padded);
                copied = item;
                float* bias = _bias is null ? null : _bias + group * mg;
                float* y = _y + first * g.OutPixels, residual = _residual is null ? null : _residual + first * g.OutPixels;
                if (_channelTiles) ChannelTiles(g, l, _w, _offsets, _bases, group, padded, bias, y, residual, _relu, r0, r1);
                else if (imageResident) ImageResident(g, l, group, padded, bias, y, residual, tiles, stride, r0, r1);
                else WeightResident(g, l, group, padded, bias, y, residual, tiles, r0, r1);
            }
        }

        // Panel → K block → tile; a tile is written out after its last K block. tiles: MaxRows × stride.
        private void ImageResident(Conv2dGeometry g, PhaseSplitImage l, int group, float* padded, float* bias, float* y, float* residual,
            float* tiles, int stride, int r0, int r1)
        {
            int nr = TKernel.NR, k = g.ColumnRows, mg = g.OutPerGroup, positions = l.Positions, pixels = g.OutPixels;
            for (int r = r0; r < r1; r += _panelRows)
            {
                int rows = Math.Min(_panelRows, r1 - r);
                long rowStart = (long)r * pixels;
                if (_accumulate) PixelTileOutput.Read(tiles, stride, rows, 0, positions, l.Wq, g.OutWidth, y + rowStart, pixels);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                    bool start = _accumulate || pc > 0, last = pc + kc == k;
                    for (int q = 0; q < positions; q += nr)
                    {
                        TKernel.RunDirect(rows, kc, a, padded + q, _offsets + pc, tiles + q, stride, bias is null ? null : bias + r, start);
                        if (last)
                            PixelTileOutput.Write(TKernel.Path, tiles + q, stride, rows, q, Math.Min(nr, positions - q), l.Wq, g.OutWidth,
                                y + rowStart, pixels, residual is null ? null : residual + rowStart, _relu);
                    }
                }
            }
        }

        // Strip → tile → K block → panel, a strip being StripTiles(g) tiles; the strip's rows r0..r1 are written out after
        // its tiles' last K blocks (a tile at a time would write each output row in many short pieces, which costs more
        // than the tiles themselves once the output is larger than the caches). tiles: (r1 − r0) × StripTiles(g)·NR.
        private void WeightResident(Conv2dGeometry g, PhaseSplitImage l, int group, float* padded, float* bias, float* y, float* residual,
            float* tiles, int r0, int r1)
        {
            int nr = TKernel.NR, k = g.ColumnRows, mg = g.OutPerGroup, positions = l.Positions, pixels = g.OutPixels;
            int ldt = StripTiles(g) * nr;
            long rowStart = (long)r0 * pixels;
            for (int q0 = 0; q0 < positions; q0 += ldt)
            {
                int count = Math.Min(ldt, positions - q0);
                if (_accumulate) PixelTileOutput.Read(tiles, ldt, r1 - r0, q0, count, l.Wq, g.OutWidth, y + rowStart, pixels);
                for (int q = q0; q < q0 + count; q += nr)
                    for (int pc = 0; pc < k; pc += KC)
                    {
                        int kc = Math.Min(KC, k - pc);
                        for (int r = r0; r < r1; r += _panelRows)
                        {
                            int rows = Math.Min(_panelRows, r1 - r);
                            float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                            TKernel.RunDirect(rows, kc, a, padded + q, _offsets + pc, tiles + (long)(r - r0) * ldt + (q - q0), ldt,
                                bias is null ? null : bias + r, _accumulate || pc > 0);
                        }
                    }
                PixelTileOutput.Write(TKernel.Path, tiles, ldt, r1 - r0, q0, count, l.Wq, g.OutWidth, y + rowStart, pixels,
                    residual is null ? null : residual + rowStart, _relu);
            }
        }
    }
}
