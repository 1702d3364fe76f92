// The direct convolution's forward pass (the layout is described in Conv2dDirect.cs). Work units are
// (image, group, block of channel-row panels): with fewer images than threads each image's output channels are
// split over the threads, so a single image uses every core; every output value is still summed by the same
// tile call in the same order, so the bits never depend on the thread count. Two loop orders over one unit:
//   image-resident (the padded image fits the L2 budget): panel → K block → position tile, so each weight block
//     is read from memory once and stays in L1 while the tiles sweep the image in L2 (deep layers: 512 channels
//     of 7×7 carry 9 MiB of weights and a 0.2 MiB image);
//   weight-resident (large images): position tile → K block → panel, the tile's taps stay in L1 and the weights
//     in L2 (early layers: 64 channels of 56×56).
// The epilogue runs as the tile rows are copied out: y = max(0, conv + b + residual) when asked, in the order the
// separate Add and Relu ops would compute it, so a fused graph gives the same bits as the unfused one.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    /// <summary>Padded images up to this many bytes run image-resident (half of a 1 MiB L2, the rest for tiles and weights).</summary>
    private const long ImageResidentBytes = 512 * 1024;

    [ThreadStatic] private static ForwardJob? t_forward;

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
        int panelRows = channelTiles ? ConvChannelsAvx512.Channels : TKernel.MaxRows;
        float* packed = PackWeights(g, w, panelRows, prepacked, out var holder);
        int panels = (g.OutPerGroup + panelRows - 1) / panelRows;
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items * panels);
        // Split an item's panels only when whole items would leave threads idle or unevenly loaded.
        int split = parts > 1 && items % parts != 0 && items < 4L * parts ? Math.Min(parts, panels) : 1;
        var job = t_forward ??= new ForwardJob();
        fixed (int* offsets = TapOffsets(g, layout))
        {
            job.Set(g, layout, x, packed, offsets, bias, y, residual, accumulate, relu, items, split, parts, panelRows, channelTiles);
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
        private int* _offsets;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, float* x, float* w, int* offsets, float* bias, float* y, float* residual,
            bool accumulate, bool relu, long items, int split, int parts, int panelRows, bool channelTiles)
        {
            (_g, _layout, _accumulate, _relu, _items, _split, _parts) = (g, layout, accumulate, relu, items, split, parts);
            (_panelRows, _channelTiles) = (panelRows, channelTiles);
            _x = x; _w = w; _offsets = offsets; _bias = bias; _y = y; _residual = residual;
        }

        public void Clear() { _x = _w = _bias = _y = _residual = null; _offsets = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int nr = TKernel.NR, mg = g.OutPerGroup, panelRows = _panelRows, panels = (mg + panelRows - 1) / panelRows;
            int stride = l.PaddedPositions(nr);
            float* padded = Buffer(ref t_padded, l.Length(nr));
            float* output = _channelTiles ? null : Buffer(ref t_out, (long)mg * stride);
            new Span<float>(padded, checked((int)l.Length(nr))).Clear(); // every item writes the same interior: the border stays zero
            bool imageResident = l.Length(nr) * sizeof(float) <= ImageResidentBytes;
            long units = _items * _split, u0 = units * part / _parts, u1 = units * (part + 1) / _parts, copied = -1;
            for (long unit = u0; unit < u1; unit++)
            {
                long item = unit / _split;
                int block = (int)(unit % _split), group = (int)(item % g.Groups), n = (int)(item / g.Groups);
                int r0 = panels * block / _split * panelRows, r1 = Math.Min(mg, panels * (block + 1) / _split * panelRows);
                long first = (long)n * g.OutChannels + (long)group * mg;
                if (item != copied) CopyImage(g, l, _x + ((long)n * g.InChannels + (long)group * g.InPerGroup) * g.InPixels, padded);
                copied = item;
                float* bias = _bias is null ? null : _bias + group * mg;
                if (_channelTiles)
                {
                    ChannelTiles(g, l, _w, _offsets, group, padded, bias, _y + first * g.OutPixels,
                        _residual is null ? null : _residual + first * g.OutPixels, _relu, r0, r1);
                    continue;
                }
                if (_accumulate) CopyRows(g, l, _y + first * g.OutPixels, output, stride, r0, r1, toTiles: true);
                if (imageResident) ImageResident(g, l, group, padded, bias, output, stride, r0, r1);
                else WeightResident(g, l, group, padded, bias, output, stride, r0, r1);
                if (_residual is null && !_relu) CopyRows(g, l, _y + first * g.OutPixels, output, stride, r0, r1, toTiles: false);
                else Epilogue(g, l, _y + first * g.OutPixels, _residual is null ? null : _residual + first * g.OutPixels, output, stride, r0, r1);
            }
        }

        private void ImageResident(Conv2dGeometry g, PhaseSplitImage l, int group, float* padded, float* bias, float* output, int stride, int r0, int r1)
        {
            int nr = TKernel.NR, k = g.ColumnRows, mg = g.OutPerGroup, positions = l.Positions;
            for (int r = r0; r < r1; r += TKernel.MaxRows)
            {
                int rows = Math.Min(TKernel.MaxRows, r1 - r);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                    bool start = _accumulate || pc > 0;
                    for (int q = 0; q < positions; q += nr)
                        TKernel.RunDirect(rows, kc, a, padded + q, _offsets + pc, output + (long)r * stride + q, stride, bias is null ? null : bias + r, start);
                }
            }
        }

        private void WeightResident(Conv2dGeometry g, PhaseSplitImage l, int group, float* padded, float* bias, float* output, int stride, int r0, int r1)
        {
            int nr = TKernel.NR, k = g.ColumnRows, mg = g.OutPerGroup, positions = l.Positions;
            for (int q = 0; q < positions; q += nr)
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    for (int r = r0; r < r1; r += TKernel.MaxRows)
                    {
                        int rows = Math.Min(TKernel.MaxRows, r1 - r);
                        float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                        TKernel.RunDirect(rows, kc, a, padded + q, _offsets + pc, output + (long)r * stride + q, stride,
                            bias is null ? null : bias + r, _accumulate || pc > 0);
                    }
                }
        }

        /// <summary>Rows r0..r1 between y (M/g, OH, OW) and the tiles (row stride <paramref name="stride"/>, Wq per output row).</summary>
        private static void CopyRows(Conv2dGeometry g, PhaseSplitImage l, float* y, float* output, int stride, int r0, int r1, bool toTiles)
        {
            int oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq;
            for (int m = r0; m < r1; m++)
                for (int oy = 0; oy < oh; oy++)
                {
                    float* tile = output + (long)m * stride + oy * wq, plain = y + ((long)m * oh + oy) * ow;
                    if (toTiles) Unsafe.CopyBlockUnaligned(tile, plain, (uint)(ow * sizeof(float)));
                    else Unsafe.CopyBlockUnaligned(plain, tile, (uint)(ow * sizeof(float)));
                }
        }

        /// <summary>y = tiles (+ residual) (then max(0, ·)) for rows r0..r1.</summary>
        private void Epilogue(Conv2dGeometry g, PhaseSplitImage l, float* y, float* residual, float* output, int stride, int r0, int r1)
        {
            int oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq;
            for (int m = r0; m < r1; m++)
                for (int oy = 0; oy < oh; oy++)
                {
                    long at = ((long)m * oh + oy) * ow;
                    EpilogueRow(output + (long)m * stride + oy * wq, residual is null ? null : residual + at, y + at, ow, _relu);
                }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void EpilogueRow(float* tile, float* residual, float* y, int count, bool relu)
        {
            var source = new ReadOnlySpan<float>(tile, count);
            var target = new Span<float>(y, count);
            if (residual is not null)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(source, new ReadOnlySpan<float>(residual, count), target);
                if (relu) System.Numerics.Tensors.TensorPrimitives.Max(target, 0f, target);
            }
            else System.Numerics.Tensors.TensorPrimitives.Max(source, 0f, target);
        }
    }
}
