// One block of QConv2dWinograd at a time per thread: the input transform of the block's tile rows (image by image), the
// 16 GEMMs, and the output transform of each output channel's tile rows, requantized (or copied) row by row.
using System.Runtime.Intrinsics;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

internal static unsafe partial class QConv2dWinograd
{
    [ThreadStatic] private static int[]? t_v, t_m, t_rows;
    [ThreadStatic] private static short[]? t_split, t_line, t_transformed;
    [ThreadStatic] private static int t_transformedBlock;
    [ThreadStatic] private static long t_transformedCall;
    private static long s_calls;

    private sealed class Job : IParallelJob
    {
        private Conv2dGeometry _g = null!;
        private Plan _plan;
        private TransformedWeights _u = null!;
        private byte* _x, _y;
        private int* _bias, _multipliers, _shifts, _acc;
        private byte _xZero, _yZero, _qmin, _qmax;
        private int _next;
        private long _call;

        public void Set(Conv2dGeometry g, Plan plan, TransformedWeights u, byte* x, byte xZero, int* bias, int* multipliers,
            int* shifts, byte yZero, byte qmin, byte qmax, byte* y, int* acc)
        {
            (_g, _plan, _u, _xZero, _yZero, _qmin, _qmax, _next) = (g, plan, u, xZero, yZero, qmin, qmax, 0);
            _call = Interlocked.Increment(ref s_calls);
            _x = x; _y = y; _bias = bias; _multipliers = multipliers; _shifts = shifts; _acc = acc;
        }

        public void Clear() { _x = _y = null; _bias = _multipliers = _shifts = _acc = null; _g = null!; _u = null!; }

        public void Execute(int part)
        {
            var p = _plan;
            int pairs = _u.Pairs, rows = _u.Panels * QWinogradGemm.PanelRows;
            int* v = AlignedBuffer.Of(ref t_v, 16 * pairs * p.Stride);
            int* m = AlignedBuffer.Of(ref t_m, 16 * rows * p.Stride);
            for (int unit; (unit = Interlocked.Increment(ref _next) - 1) < p.Blocks * p.Groups;)
            {
                // A block's channel groups are consecutive units: a thread given two transforms the block once.
                int block = unit / p.Groups, group = unit % p.Groups;
                int first = block * p.BlockRows, last = Math.Min(first + p.BlockRows, _g.Batch * p.TilesH);
                if (block != t_transformedBlock || _call != t_transformedCall)
                {
                    for (int row = first; row < last;)
                    {
                        int count = Math.Min(last - row, p.TilesH - row % p.TilesH);
                        Input(row / p.TilesH, row % p.TilesH, count, (row - first) * p.TilesW, v);
                        row += count;
                    }
                    (t_transformedBlock, t_transformedCall) = (block, _call);
                }
                int panel0 = group * _u.Panels / p.Groups, panels = (group + 1) * _u.Panels / p.Groups - panel0;
                int row0 = panel0 * QWinogradGemm.PanelRows;
                fixed (int* u = _u.U)
                    for (int xi = 0; xi < 16; xi++)
                        QWinogradGemm.Run(panels, pairs, u + ((long)xi * _u.Panels + panel0) * pairs * QWinogradGemm.PanelRows,
                            v + (long)xi * pairs * p.Stride, p.Stride, p.TilesOf(last - first), m + ((long)xi * rows + row0) * p.Stride, p.Stride);
                int channelEnd = Math.Min(_g.OutChannels, row0 + panels * QWinogradGemm.PanelRows);
                for (int row = first; row < last;)
                {
                    int count = Math.Min(last - row, p.TilesH - row % p.TilesH);
                    Output(row / p.TilesH, row % p.TilesH, count, (row - first) * p.TilesW, m, (long)rows * p.Stride, row0, channelEnd);
                    row += count;
                }
            }
        }

        // V of tile rows ty0 .. ty0 + count − 1 of image n, at tile offset `at` of the block, every channel pair.
        private void Input(int n, int ty0, int count, int at, int* v)
        {
            var g = _g;
            var p = _plan;
            int c = g.InChannels, half = p.Half, rowsIn = 2 * count + 2, iy0 = 2 * ty0 - g.Options.PadTop, pairs = _u.Pairs;
            short* even = AlignedBuffer.Of(ref t_split, 4 * rowsIn * half);
            short* line = AlignedBuffer.Of(ref t_line, 2 * half);
            var transformed = (Vector256<short>*)AlignedBuffer.Of(ref t_transformed, 2 * 16 * 16);
            long xiStride = (long)pairs * p.Stride;
            for (int pair = 0; pair < pairs; pair++)
            {
                // Split rows of channels 2·pair and 2·pair + 1: even columns, then odd, per channel.
                for (int h = 0; h < 2; h++)
                {
                    int channel = 2 * pair + h;
                    short* channelEven = even + h * 2 * rowsIn * half, channelOdd = channelEven + rowsIn * half;
                    for (int r = 0; r < rowsIn; r++)
                    {
                        int iy = iy0 + r;
                        byte* source = channel < c && (uint)iy < (uint)g.Height ? _x + (((long)n * c + channel) * g.Height + iy) * g.Width : null;
                        QWinogradTransforms.SplitRow(source, g.Width, g.Options.PadLeft, _xZero, half, line, channelEven + r * half, channelOdd + r * half);
                    }
                }
                short* even0 = even, odd0 = even + rowsIn * half, even1 = even + 2 * rowsIn * half, odd1 = even1 + rowsIn * half;
                for (int tr = 0; tr < count; tr++)
                    for (int k = 0; k < p.TilesW; k += 16)
                    {
                        int offset = 2 * tr * half + k;
                        QWinogradTransforms.Input16(even0 + offset, odd0 + offset, half, transformed);
                        QWinogradTransforms.Input16(even1 + offset, odd1 + offset, half, transformed + 16);
                        QWinogradTransforms.StorePairs(transformed, transformed + 16, v + (long)pair * p.Stride + at + tr * p.TilesW + k, xiStride);
                    }
            }
        }

        // Outputs of tile rows ty0 .. ty0 + count − 1 of image n, channels channel0 .. channelEnd − 1, from the products at tile
        // offset `at`.
        private void Output(int n, int ty0, int count, int at, int* m, long xiStride, int channel0, int channelEnd)
        {
            var g = _g;
            var p = _plan;
            int oh = g.OutHeight, ow = g.OutWidth, width = 2 * RoundUp(p.TilesW, 8);
            int* top = AlignedBuffer.Of(ref t_rows, 2 * width), bottom = top + width;
            for (int o = channel0; o < channelEnd; o++)
            {
                var bias = Vector256.Create(_bias is null ? 0 : _bias[o]);
                for (int tr = 0; tr < count; tr++)
                {
                    int* products = m + (long)o * p.Stride + at + tr * p.TilesW;
                    for (int k = 0; k < p.TilesW; k += 8)
                        QWinogradTransforms.Output8(products + k, xiStride, bias, top + 2 * k, bottom + 2 * k);
                    int oy = 2 * (ty0 + tr);
                    WriteRow(n, o, oy, top);
                    if (oy + 1 < oh) WriteRow(n, o, oy + 1, bottom);
                }
            }
        }

        private void WriteRow(int n, int o, int oy, int* row)
        {
            int ow = _g.OutWidth;
            long at = (((long)n * _g.OutChannels + o) * _g.OutHeight + oy) * ow;
            if (_y is null) new ReadOnlySpan<int>(row, ow).CopyTo(new Span<int>(_acc + at, ow));
            else RowRequantizer.Row(KernelPath.Avx2, row, ow, _multipliers[o], _shifts[o], _yZero, _qmin, _qmax, _y + at);
        }
    }
}
