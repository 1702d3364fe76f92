// The direct int8 convolution for vpdpbusd (AVX-VNNI, or vpmaddubsw where the weight allows: QConv2d.Direct): QConv2dDirect's padded
// phase-split planar image, but with four input channels per int32 — channel c of pixel (iy, ix) is byte c mod 4 of plane group c / 4 — and raw
// uint8 values, the border (and the channels past C that pad the last group) holding z_x. A tap quad is then
// channels 4g..4g+3 at one (kh, kw): one contiguous load of positions × 4 bytes, the exact operand layout of
// vpdpbusd (uint8 × int8, QConvKernel.Quads.cs), and the weights are the matching int8 quads (zeroPointRow past C).
// Zero point (Jacob et al. 2018, eq. 7, weight zero point 0): every tap reads x or the border value z_x, so
//   Σ_t (x_t − z_x)·w_t = Σ_t x_t·w_t − z_x·Σ_t w_t,
// and the second term joins the bias (PackedInt8Weights.RowSums). All in wrapping int32, equal mod 2^32 to the
// reference's int64 sum cast, so the bits match every other path. Images are independent: any thread split
// gives the same bits.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Forward int8 convolution of NCHW images through a channel-quad planar uint8 copy and vpdpbusd tiles.</summary>
internal static unsafe partial class QConv2dQuads<TDot> where TDot : struct, IDot4
{
    private const int MaxRows = QConvKernelQuads<TDot>.MaxRows, NR = QConvKernelQuads<TDot>.NR;

    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static int[]? t_offsets, t_biases;

    /// <summary>As <see cref="QConv2dDirect{TKernel}.Forward"/>: requantized into y when it is not null, else int32 into acc.</summary>
    public static void Forward(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        if (g.Batch == 0) return;
        int groups = (g.InChannels + 3) / 4, quads = g.KernelH * g.KernelW * groups, m = g.OutChannels;
        var layout = new PhaseSplitImage(g, groups);
        int* offsets = AlignedBuffer.Of(ref t_offsets, quads), biases = AlignedBuffer.Of(ref t_biases, m);
        int t = 0;
        for (int kh = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++)
                for (int c = 0; c < groups; c++)
                    offsets[t++] = layout.TapOffset(c, kh, kw);
        if (weight.DerivedLayout is not QuadWeights packed) weight.DerivedLayout = packed = new QuadWeights(PackWeights(g, weight));
        var rowSums = weight.RowSums;
        for (int o = 0; o < m; o++) biases[o] = (bias is null ? 0 : bias[o]) - xZeroPoint * rowSums[o];
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? Cpu.Threads : 1, g.Batch);
        var job = t_job ??= new Job();
        job.Set(g, layout, x, xZeroPoint, packed.Pointer, offsets, biases, multiplier, shift, yZeroPoint, qmin, qmax, y, acc, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>The weight quads of <see cref="PackWeights"/>, pinned.</summary>
    private sealed record QuadWeights(int[] Quads)
    {
        public int* Pointer => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Quads));
    }

    // Row blocks of up to MaxRows channels: the block at r holds w[r·quads + p·rows + i] = quad p of channel r + i, quad
    // p = (kh·kW + kw)·groups + g holding channels 4g..4g+3 (0 past C) of the weight's (kh, kw, c) order.
    private static int[] PackWeights(Conv2dGeometry g, PackedInt8Weights weight)
    {
        int m = g.OutChannels, channels = g.InChannels, groups = (channels + 3) / 4, quads = g.KernelH * g.KernelW * groups;
        var packed = GC.AllocateArray<int>(m * quads, pinned: true);
        for (int r = 0; r < m; r += MaxRows)
        {
            int rows = Math.Min(MaxRows, m - r);
            for (int p = 0; p < quads; p++)
                for (int i = 0; i < rows; i++)
                {
                    int tap = p / groups, quad = 0;
                    for (int b = 0, c = p % groups * 4; b < 4 && c < channels; b++, c++)
                        quad |= (byte)weight.At(r + i, tap * channels + c) << (8 * b);
                    packed[r * quads + p * rows + i] = quad;
                }
        }
        return packed;
    }

    /// <summary>Part p takes a contiguous run of images.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static int[]? t_image, t_acc, t_rowBase, t_colBase;

        private Conv2dGeometry _g = null!;
        private PhaseSplitImage _layout;
        private int _parts;
        private byte _xZero, _yZero, _qmin, _qmax;
        private byte* _x, _y;
        private int* _w, _offsets, _bias, _multipliers, _shifts, _acc;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, byte* x, byte xZero, int* w, int* offsets, int* bias, int* multipliers,
            int* shifts, byte yZero, byte qmin, byte qmax, byte* y, int* acc, int parts)
        {
            (_g, _layout, _xZero, _yZero, _qmin, _qmax, _parts) = (g, layout, xZero, yZero, qmin, qmax, parts);
            _x = x; _y = y; _w = w; _offsets = offsets; _bias = bias; _multipliers = multipliers; _shifts = shifts; _acc = acc;
        }

        public void Clear() { _x = _y = null; _w = _offsets = _bias = _multipliers = _shifts = _acc = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int m = g.OutChannels, groups = (g.InChannels + 3) / 4, quads = g.KernelH * g.KernelW * groups, stride = l.PaddedPositions(NR);
            int pixels = g.OutPixels, length = checked((int)l.Length(NR) + 64);
            int* image = AlignedBuffer.Of(ref t_image, length), acc = AlignedBuffer.Of(ref t_acc, m * stride);
            int* rowBase = AlignedBuffer.Of(ref t_rowBase, g.Height), colBase = AlignedBuffer.Of(ref t_colBase, g.Width);
            QConvShared.Bases(g, l, rowBase, colBase);
            // Every image writes the same interior: the border and the padding channels keep z_x.
            new Span<int>(image, length).Fill(_xZero * 0x01010101);
            int n0 = (int)((long)g.Batch * part / _parts), n1 = (int)((long)g.Batch * (part + 1) / _parts);
            for (int n = n0; n < n1; n++)
            {
                CopyImage(g, l, _x + (long)n * g.InPixels * g.InChannels, _xZero, rowBase, colBase, image);
                // The larger of weight and image is read once, the smaller once per tile of the other (as in QConv2dDirect).
                if ((long)m * quads > (long)l.Positions * groups)
                    for (int r = 0; r < m; r += MaxRows)
                        for (int q = 0; q < l.Positions; q += NR)
                            QConvKernelQuads<TDot>.Run(Math.Min(MaxRows, m - r), quads, _w + r * quads, image + q, _offsets, _bias + r,
                                acc + r * stride + q, stride);
                else
                    for (int q = 0; q < l.Positions; q += NR)
                        for (int r = 0; r < m; r += MaxRows)
                            QConvKernelQuads<TDot>.Run(Math.Min(MaxRows, m - r), quads, _w + r * quads, image + q, _offsets, _bias + r,
                                acc + r * stride + q, stride);
                QConvShared.WriteImage(KernelPath.Avx2, g, l.Wq, acc, stride, _acc + (long)n * pixels * m, _multipliers, _shifts,
                    _yZero, _qmin, _qmax, _y is null ? null : _y + (long)n * pixels * m);
            }
        }
    }

    /// <summary>Channel c of the NCHW image to byte c mod 4 of the int32 quads of plane group c / 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyImage(Conv2dGeometry g, PhaseSplitImage l, byte* source, byte zero, int* rowBase, int* colBase, int* image)
    {
        int w = g.Width, h = g.Height, groupStride = l.StrideH * l.StrideW * l.Hq * l.Wq;
        // Channels past C (padding of the last group) read a row of z_x.
        byte* zeroPointRow = stackalloc byte[w + 16];
        new Span<byte>(zeroPointRow, w + 16).Fill(zero);
        for (int group = 0; group * 4 < g.InChannels; group++)
        {
            int* plane = image + (long)group * groupStride;
            for (int iy = 0; iy < h; iy++)
            {
                byte* r0 = ChannelRow(g, source, 4 * group, iy, zeroPointRow), r1 = ChannelRow(g, source, 4 * group + 1, iy, zeroPointRow);
                byte* r2 = ChannelRow(g, source, 4 * group + 2, iy, zeroPointRow), r3 = ChannelRow(g, source, 4 * group + 3, iy, zeroPointRow);
                int* row = plane + rowBase[iy];
                int ix = 0;
                if (l.StrideW == 1)
                {
                    // 16 pixels of 4 channels: bytes interleaved in pairs (punpck*bw), then the pairs (punpck*wd).
                    int* dst = row + colBase[0];
                    for (; ix <= w - 16; ix += 16)
                    {
                        var a = Vector128.Load(r0 + ix); var b = Vector128.Load(r1 + ix);
                        var c = Vector128.Load(r2 + ix); var d = Vector128.Load(r3 + ix);
                        var abLow = Sse2.UnpackLow(a, b).AsInt16(); var abHigh = Sse2.UnpackHigh(a, b).AsInt16();
                        var cdLow = Sse2.UnpackLow(c, d).AsInt16(); var cdHigh = Sse2.UnpackHigh(c, d).AsInt16();
                        Sse2.UnpackLow(abLow, cdLow).Store((short*)(dst + ix));
                        Sse2.UnpackHigh(abLow, cdLow).Store((short*)(dst + ix + 4));
                        Sse2.UnpackLow(abHigh, cdHigh).Store((short*)(dst + ix + 8));
                        Sse2.UnpackHigh(abHigh, cdHigh).Store((short*)(dst + ix + 12));
                    }
                }
                for (; ix < w; ix++) row[colBase[ix]] = r0[ix] | r1[ix] << 8 | r2[ix] << 16 | r3[ix] << 24;
            }
        }
    }

    /// <summary>Row iy of channel c of the image, or the row of z_x past the last channel.</summary>
    private static byte* ChannelRow(Conv2dGeometry g, byte* source, int c, int iy, byte* zeroPointRow) =>
        c < g.InChannels ? source + ((long)c * g.Height + iy) * g.Width : zeroPointRow;
}
