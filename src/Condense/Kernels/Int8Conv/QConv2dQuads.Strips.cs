// The int8 form of a stride-1 1×1 convolution strip by strip (as Conv2dGemm.Strips.cs does for fp32): for each 16 pixels
// of an image the C input channels are interleaved into a strip of C/4 channel quads × 16 pixels (in L1 for the whole
// strip), every six output channels are one QConvKernelQuads tile over it, and the tile's int32 sums are requantized
// into the six output rows while they are still in L1. QConv2dQuads.Forward instead copied the whole image into quads,
// wrote every int32 sum of the image (4.8 MB for MobileNetV2's 16 → 96 at 112²), copied the rows out and requantized
// them from per-value multiplier and shift arrays it filled first: in MobileNetV2 int8 (batch 1) those passes were
// 32 % of the time against 35 % for the tiles. The sums are exact integers, so the bits equal every other path's for
// any strip or thread split. One image is cut between the threads by strips, not by output-channel blocks (which
// copied the image once per block).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

internal static unsafe partial class QConv2dQuads<TDot>
{
    /// <summary>Pixels per strip: the tile's positions.</summary>
    private const int Width = NR;

    [ThreadStatic] private static StripJob? t_stripJob;

    /// <summary>
    /// As <see cref="Forward"/> for a 1×1 convolution of stride 1 without padding (<see cref="QConv2d"/> checks), strip by
    /// strip on as many threads as the work pays for.
    /// </summary>
    public static void ForwardStrips(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        if (g.Batch == 0) return;
        int m = g.OutChannels, groups = (g.InChannels + 3) / 4, pixels = g.OutPixels;
        if (weight.DerivedLayout is not QuadWeights packed) weight.DerivedLayout = packed = new QuadWeights(PackWeights(g, weight));
        int* offsets = AlignedBuffer.Of(ref t_offsets, groups), biases = AlignedBuffer.Of(ref t_biases, m);
        for (int p = 0; p < groups; p++) offsets[p] = p * Width;
        var rowSums = weight.RowSums;
        for (int o = 0; o < m; o++) biases[o] = (bias is null ? 0 : bias[o]) - xZeroPoint * rowSums[o];
        var schedule = new StripSchedule(g.Batch, pixels, m, Width, MaxRows, 2L * g.Batch * m * g.InChannels * pixels >= QConv2d.ParallelOps);
        var job = t_stripJob ??= new StripJob();
        job.Set(g, x, packed.Pointer, offsets, biases, multiplier, shift, yZeroPoint, qmin, qmax, y, acc, schedule);
        try { WorkerPool.Run(job, schedule.Parts); }
        finally { job.Clear(); }
    }

    /// <summary>One call: each part takes a contiguous range of (image, strip, channel block) units.</summary>
    private sealed class StripJob : IParallelJob
    {
        [ThreadStatic] private static int[]? t_strip;

        private Conv2dGeometry _g = null!;
        private byte* _x, _y;
        private int* _w, _offsets, _bias, _multiplier, _shift, _acc;
        private byte _yZero, _qmin, _qmax;
        private StripSchedule _schedule;

        public void Set(Conv2dGeometry g, byte* x, int* w, int* offsets, int* bias, int* multiplier, int* shift, byte yZero, byte qmin,
            byte qmax, byte* y, int* acc, StripSchedule schedule)
        {
            (_g, _yZero, _qmin, _qmax, _schedule) = (g, yZero, qmin, qmax, schedule);
            _x = x; _y = y; _w = w; _offsets = offsets; _bias = bias; _multiplier = multiplier; _shift = shift; _acc = acc;
        }

        public void Clear() { _x = _y = null; _w = _offsets = _bias = _multiplier = _shift = _acc = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var g = _g;
            int c = g.InChannels, groups = (c + 3) / 4, pixels = g.OutPixels, m = g.OutChannels;
            int* strip = AlignedBuffer.Of(ref t_strip, groups * Width);
            int* tile = stackalloc int[MaxRows * Width];
            var (first, end) = _schedule.Range(part);
            for (long unit = first; unit < end; unit++)
            {
                var (n, j, cols, i0, i1) = _schedule.At(unit);
                InterleaveStrip(_x + (long)n * c * pixels + j, pixels, c, cols, strip);
                for (int i = i0; i < i1; i += MaxRows)
                {
                    int rows = Math.Min(MaxRows, i1 - i);
                    QConvKernelQuads<TDot>.Run(rows, groups, _w + (long)i * groups, strip, _offsets, _bias + i, tile, Width);
                    long at = ((long)n * m + i) * pixels + j;
                    if (_y is not null)
                        RowRequantizer.Tile(tile, Width, rows, _multiplier + i, _shift + i, _yZero, _qmin, _qmax, _y + at, pixels, cols);
                    else
                        for (int r = 0; r < rows; r++)
                            new ReadOnlySpan<int>(tile + r * Width, cols).CopyTo(new Span<int>(_acc + at + (long)r * pixels, cols));
                }
            }
        }

        // strip[q·16 + p] = channels 4q..4q+3 of pixel p as the bytes of one int32 (0 past C, whose weights are 0), p < cols;
        // the positions past cols hold 0 and their sums are dropped.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void InterleaveStrip(byte* x, int pixels, int channels, int cols, int* strip)
        {
            // The rows of the channels past C (16 bytes: what a full strip loads).
            var zero = Vector128<byte>.Zero;
            byte* zeroRow = (byte*)&zero;
            for (int q = 0, c = 0; c < channels; q++, c += 4, strip += Width)
            {
                byte* r0 = x + (long)c * pixels;
                byte* r1 = c + 1 < channels ? r0 + pixels : zeroRow, r2 = c + 2 < channels ? r0 + 2L * pixels : zeroRow;
                byte* r3 = c + 3 < channels ? r0 + 3L * pixels : zeroRow;
                if (cols == Width)
                {
                    // Bytes interleaved in pairs (punpck*bw), then the pairs (punpck*wd), as QConv2dQuads.CopyImage.
                    var a = Vector128.Load(r0); var b = Vector128.Load(r1); var cc = Vector128.Load(r2); var d = Vector128.Load(r3);
                    var abLow = Sse2.UnpackLow(a, b).AsInt16(); var abHigh = Sse2.UnpackHigh(a, b).AsInt16();
                    var cdLow = Sse2.UnpackLow(cc, d).AsInt16(); var cdHigh = Sse2.UnpackHigh(cc, d).AsInt16();
                    Sse2.UnpackLow(abLow, cdLow).Store((short*)strip);
                    Sse2.UnpackHigh(abLow, cdLow).Store((short*)(strip + 4));
                    Sse2.UnpackLow(abHigh, cdHigh).Store((short*)(strip + 8));
                    Sse2.UnpackHigh(abHigh, cdHigh).Store((short*)(strip + 12));
                    continue;
                }
                int p = 0;
                for (; p < cols; p++) strip[p] = r0[p] | r1[p] << 8 | r2[p] << 16 | r3[p] << 24;
                for (; p < Width; p++) strip[p] = 0;
            }
        }
    }
}
