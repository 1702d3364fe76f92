// The direct int8 convolution: the integer analogue of Conv2dDirect.cs, with no im2col rows. Each image is
// copied once from NCHW uint8 into a zero-bordered, stride-phase-split planar int16 image holding x − z_x
// (so the padding is 0 and the zero point never reaches the inner loop), laid out exactly as Conv2dDirect's:
// tap (kh, kw, c) of padded output position q = oy·Wq + ox reads offset(tap) + q, so NR consecutive q are one
// contiguous load. A tile is rows output channels × NR positions in int32 lanes; taps go in pairs (t0, t1):
// the two loads are interleaved into (x[q + o0], x[q + o1]) int16 pairs and vpmaddwd against the broadcast
// weight pair (w[m, t0], w[m, t1]) adds both products per lane. |x − z_x| ≤ 255 and |w| ≤ 128, so a pair is at
// most 65,280 and the int32 sums are exact (mod 2^32, as the reference's cast), equal bit for bit on every path.
// The OW useful positions of each output row are copied out (NCHW, as the input) and requantized (QConvShared).
// Images are independent, so any split over threads gives the same bits.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Forward int8 convolution of NCHW images through a padded planar int16 copy and <typeparamref name="TKernel"/> tiles.</summary>
internal static unsafe class QConv2dDirect<TKernel> where TKernel : struct, IQConvKernel
{
    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static int[]? t_offsets, t_biases;

    /// <summary>
    /// Requantized output y (N, M, OH, OW) when <paramref name="y"/> is not null (then <paramref name="multiplier"/>,
    /// <paramref name="shift"/> per channel), else the int32 accumulators into <paramref name="acc"/> (N, M, OH, OW).
    /// </summary>
    public static void Forward(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        if (g.Batch == 0) return;
        var layout = new PhaseSplitImage(g, g.InChannels);
        int m = g.OutChannels, pairs = (g.ColumnRows + 1) / 2;
        // The calling thread's buffers (valid until its next call): allocating them pinned per call cost more than a
        // batch-1 LeNet convolution.
        int* offsets = AlignedBuffer.Of(ref t_offsets, 2 * pairs), biases = AlignedBuffer.Of(ref t_biases, m);
        TapOffsets(g, layout, offsets);
        // Packed once per weight and tile height (the tests switch paths), kept on the weight: repacking read 2,400
        // values per LeNet conv2 call, as long as the batch-1 convolution itself.
        if (weight.DerivedLayout is not PairedWeights paired || paired.MaxRows != TKernel.MaxRows)
            weight.DerivedLayout = paired = new PairedWeights(TKernel.MaxRows, PackWeights(g, weight));
        int* weights = paired.Pointer;
        for (int o = 0; o < m; o++) biases[o] = bias is null ? 0 : bias[o];
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? Cpu.Threads : 1, g.Batch);
        var job = t_job ??= new Job();
        job.Set(g, layout, x, xZeroPoint, weights, offsets, biases, multiplier, shift, yZeroPoint, qmin, qmax, y, acc, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    // Tiles read up to NR + Wq values past the last plane (PhaseSplitImage.Length); 64 more for the vector width.
    private static int PaddedLength(PhaseSplitImage l) => checked((int)l.Length(TKernel.NR) + 64);

    // offsets[t] for the taps in channels-last order t = (kh·kW + kw)·C + c (the order of the packed weight),
    // then one more (0, with weight 0) when the count is odd.
    private static void TapOffsets(Conv2dGeometry g, PhaseSplitImage l, int* offsets)
    {
        int t = 0;
        for (int kh = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++)
                for (int c = 0; c < g.InChannels; c++)
                    offsets[t++] = l.TapOffset(c, kh, kw);
        if (t % 2 == 1) offsets[t] = 0;
    }

    /// <summary>The weight pairs of <see cref="PackWeights"/> for tiles of <paramref name="MaxRows"/> rows, pinned.</summary>
    private sealed record PairedWeights(int MaxRows, int[] Pairs)
    {
        public int* Pointer => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Pairs));
    }

    // Row blocks of up to MaxRows channels: the block at r holds w[r·pairs + p·rows + i] = pair p of channel r + i.
    private static int[] PackWeights(Conv2dGeometry g, PackedInt8Weights weight)
    {
        int m = g.OutChannels, k = g.ColumnRows, pairs = (k + 1) / 2;
        var packed = GC.AllocateArray<int>(Math.Max(1, m * pairs), pinned: true);
        for (int r = 0; r < m; r += TKernel.MaxRows)
        {
            int rows = Math.Min(TKernel.MaxRows, m - r);
            for (int p = 0; p < pairs; p++)
                for (int i = 0; i < rows; i++)
                {
                    int low = weight.At(r + i, 2 * p), high = 2 * p + 1 < k ? weight.At(r + i, 2 * p + 1) : 0;
                    packed[r * pairs + p * rows + i] = (ushort)(short)low | high << 16;
                }
        }
        return packed;
    }

    /// <summary>Part p takes a contiguous run of images.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static short[]? t_padded;
        [ThreadStatic] private static int[]? t_acc, t_rowBase, t_colBase;

        private Conv2dGeometry _g = null!;
        private PhaseSplitImage _layout;
        private int _parts;
        private byte _xZero, _yZero, _qmin, _qmax;
        private byte* _x, _y;
        private int* _w, _offsets, _bias, _multipliers, _shifts, _acc;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, byte* x, byte xZero, int* w, int* offsets, int* bias, int* multipliers, int* shifts,
            byte yZero, byte qmin, byte qmax, byte* y, int* acc, int parts)
        {
            (_g, _layout, _xZero, _yZero, _qmin, _qmax, _parts) = (g, layout, xZero, yZero, qmin, qmax, parts);
            _x = x; _y = y; _w = w; _offsets = offsets; _bias = bias; _multipliers = multipliers; _shifts = shifts; _acc = acc;
        }

        public void Clear() { _x = _y = null; _w = _offsets = _bias = _multipliers = _shifts = _acc = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int m = g.OutChannels, pairs = (g.ColumnRows + 1) / 2, nr = TKernel.NR, stride = l.PaddedPositions(nr);
            int wq = l.Wq, pixels = g.OutPixels;
            short* padded = AlignedBuffer.Of(ref t_padded, PaddedLength(l));
            int* acc = AlignedBuffer.Of(ref t_acc, m * stride);
            int* rowBase = AlignedBuffer.Of(ref t_rowBase, g.Height), colBase = AlignedBuffer.Of(ref t_colBase, g.Width);
            QConvShared.Bases(g, l, rowBase, colBase);
            new Span<short>(padded, PaddedLength(l)).Clear(); // every image writes the same interior: the border stays zero
            int n0 = (int)((long)g.Batch * part / _parts), n1 = (int)((long)g.Batch * (part + 1) / _parts);
            for (int n = n0; n < n1; n++)
            {
                CopyImage(g, l, _x + (long)n * g.InPixels * g.InChannels, _xZero, rowBase, colBase, padded);
                // The larger of weight and image is read once, the smaller once per tile of the other: ResNet's 512 × 7 × 7
                // layers (a 4.7 MB weight, a 50 KB image) ran twice as fast with the channel blocks outside.
                if ((long)m * pairs * sizeof(int) > (long)l.Positions * g.InChannels * sizeof(short))
                    for (int r = 0; r < m; r += TKernel.MaxRows)
                        for (int q = 0; q < l.Positions; q += nr)
                            TKernel.Run(Math.Min(TKernel.MaxRows, m - r), pairs, _w + r * pairs, padded + q, _offsets, _bias + r, acc + r * stride + q, stride);
                else
                    for (int q = 0; q < l.Positions; q += nr)
                        for (int r = 0; r < m; r += TKernel.MaxRows)
                            TKernel.Run(Math.Min(TKernel.MaxRows, m - r), pairs, _w + r * pairs, padded + q, _offsets, _bias + r, acc + r * stride + q, stride);
                QConvShared.WriteImage(TKernel.Path, g, wq, acc, stride, _acc + (long)n * pixels * m, _multipliers, _shifts,
                    _yZero, _qmin, _qmax, _y is null ? null : _y + (long)n * pixels * m);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyImage(Conv2dGeometry g, PhaseSplitImage l, byte* image, byte zero, int* rowBase, int* colBase, short* padded)
    {
        int w = g.Width, channelStride = l.StrideH * l.StrideW * l.Hq * l.Wq;
        for (int c = 0; c < g.InChannels; c++)
            for (int iy = 0; iy < g.Height; iy++, image += w)
            {
                short* row = padded + (long)c * channelStride + rowBase[iy];
                if (l.StrideW == 1)
                {
                    short* dst = row + colBase[0];
                    int ix = 0;
                    if (Vector128.IsHardwareAccelerated)
                        for (var z = Vector128.Create((short)zero); ix <= w - 8; ix += 8)
                            // An 8-byte scalar load widened (movq + pmovzxbw): Vector64 is not accelerated on x64.
                            (Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(image + ix)).AsByte()).AsInt16() - z).Store(dst + ix);
                    for (; ix < w; ix++) dst[ix] = (short)(image[ix] - zero);
                }
                else
                    for (int ix = 0; ix < w; ix++) row[colBase[ix]] = (short)(image[ix] - zero);
            }
    }
}
