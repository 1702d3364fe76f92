// The direct convolution, forward and weight gradient, with no im2col matrix. The image is copied once into
// a zero-padded buffer, split by stride phase (space-to-depth): padded pixel (py, px) of channel c goes to
// plane (c, py mod sH, px mod sW) at (py div sH, px div sW), each plane Hq × Wq = ⌈Hp/sH⌉ × ⌈Wp/sW⌉. Output
// (oy, ox) reads padded (oy·sH + kh·dH, ox·sW + kw·dW) = plane (c, kh·dH mod sH, kw·dW mod sW) at
// (oy + kh·dH div sH, ox + kw·dW div sW), so over "padded output positions" q = oy·Wq + ox (ox < Wq) every tap
// is one offset: offset(c, kh, kw) + q, and a run of NR consecutive q is one contiguous load for any image
// width and stride. The Wq − OW positions past each output row's end are computed and dropped (useful lanes:
// 28/32 for LeNet's conv1, 10/14 for conv2, 7/9 for a padded 7×7). With stride 1 there is one plane per
// channel and the copy is a padded copy.
//   forward      y[n, g][m, q]   = Σ_tap w[m, tap] · x_padded[n, g][q + offset(tap)]      (tiles: channel rows × NR q)
//   weight grad  dw[m, tap]     += Σ_n Σ_q dy_padded[n, g][m, q] · x_padded[n, g][q + offset(tap)]  (dy zero at dropped q)
// The forward pass is in Conv2dDirect.Forward.cs. The weight gradient sums over images: images are
// grouped into chunks of Conv2dKernel.WeightChunk whatever the thread count, each chunk sums in a fixed order
// into its own partial, and the caller adds the partials in order. So the bits never depend on the threads.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Forward convolution and weight gradient reading taps straight from a padded, phase-split image.</summary>
internal static unsafe partial class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    /// <summary>K block: KC taps of NR floats (36 KiB at NR = 48) stay in the 48 KiB L1 while the channel rows sweep them.</summary>
    private const int KC = 192;

    [ThreadStatic] private static WeightJob? t_weight;
    [ThreadStatic] private static int[]? t_offsets;
    [ThreadStatic] private static float[]? t_packedWeights;

    /// <summary>
    /// The weight gradient, chunk by chunk: chunk 0 into dw (added to when <paramref name="accumulate"/>), chunk
    /// c ≥ 1 overwriting partials[(c − 1)·M·K ..]. The caller adds the partials in order.
    /// </summary>
    public static void WeightGrad(Conv2dGeometry g, float* x, float* dy, float* dw, float* partials, bool accumulate, int threads)
    {
        int chunks = (g.Batch + Conv2dKernel.WeightChunk - 1) / Conv2dKernel.WeightChunk;
        long items = (long)chunks * g.Groups;
        if (items == 0) return;
        var layout = new PhaseSplitImage(g, g.InPerGroup);
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items);
        var job = t_weight ??= new WeightJob();
        fixed (int* offsets = TapOffsets(g, layout))
        {
            job.Set(g, layout, x, dy, dw, partials, offsets, accumulate, items, parts);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    /// <summary>
    /// offsets[(c·kH + kh)·kW + kw] = where tap (c, kh, kw) of padded output position 0 lies, then zeros up to a
    /// multiple of 3 (RunDot takes taps in threes). Valid until the thread's next call.
    /// </summary>
    private static int[] TapOffsets(Conv2dGeometry g, PhaseSplitImage l)
    {
        int count = (g.ColumnRows + 2) / 3 * 3;
        if (t_offsets is null || t_offsets.Length < count) t_offsets = GC.AllocateUninitializedArray<int>(count, pinned: true);
        int row = 0;
        for (int c = 0; c < g.InPerGroup; c++)
            for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = 0; kw < g.KernelW; kw++)
                    t_offsets[row++] = l.TapOffset(c, kh, kw);
        while (row < count) t_offsets[row++] = 0;
        return t_offsets;
    }

    /// <summary>
    /// Each group's weight (M/g × K) as row panels of up to MaxRows channels: the panel at row r holds
    /// a[p·rows + i] = w[r + i, p], so its K block at pc starts at r·K + pc·rows. Valid until the thread's next call,
    /// or, with <paramref name="prepacked"/>, kept there and reused while the layout is the same; the array that holds
    /// the result is returned in <paramref name="holder"/> (keep it alive while the pointer is in use).
    /// </summary>
    private static float* PackWeights(Conv2dGeometry g, float* w, int panelRows, Conv2dPackedWeights? prepacked, out float[]? holder)
    {
        holder = null;
        if (prepacked is null) return PackWeights(g, w, panelRows, AlignedBuffer.Of(ref t_packedWeights, (long)g.OutChannels * g.ColumnRows));
        var kept = prepacked.Find(typeof(TKernel), panelRows, g);
        bool made = kept is null;
        float* packed = AlignedBuffer.Of(ref kept, (long)g.OutChannels * g.ColumnRows);
        if (made)
        {
            fixed (float* source = w is null ? prepacked.SourcedWeight(g.OutChannels * g.ColumnRows) : null)
                PackWeights(g, w is null ? source : w, panelRows, packed);
            prepacked.Keep(typeof(TKernel), panelRows, g, kept!);
        }
        holder = kept;
        return packed;
    }

    private static float* PackWeights(Conv2dGeometry g, float* w, int panelRows, float* packed)
    {
        int k = g.ColumnRows, mg = g.OutPerGroup;
        for (int group = 0; group < g.Groups; group++)
            for (int r = 0; r < mg; r += panelRows)
            {
                int rows = Math.Min(panelRows, mg - r);
                GemmPack.PackA(false, TKernel.Path != KernelPath.Scalar, w + (long)group * mg * k, k, r, 0, rows, k, rows, packed + ((long)group * mg + r) * k);
            }
        return packed;
    }

    /// <summary>Weight-gradient items (chunk, group); part p takes a contiguous run.</summary>
    private sealed class WeightJob : IParallelJob
    {
        [ThreadStatic] private static float[]? t_padded, t_dy;

        private Conv2dGeometry _g = null!;
        private PhaseSplitImage _layout;
        private int _parts;
        private long _items;
        private bool _accumulate;
        private float* _x, _dy, _dw, _partials;
        private int* _offsets;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, float* x, float* dy, float* dw, float* partials, int* offsets,
            bool accumulate, long items, int parts)
        {
            (_g, _layout, _accumulate, _items, _parts) = (g, layout, accumulate, items, parts);
            _x = x; _dy = dy; _dw = dw; _partials = partials; _offsets = offsets;
        }

        public void Clear() { _x = _dy = _dw = _partials = null; _offsets = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int k = g.ColumnRows, mg = g.OutPerGroup, cg = g.InPerGroup, chunk = Conv2dKernel.WeightChunk;
            int oh = g.OutHeight, ow = g.OutWidth, wq = l.Wq;
            // RunDot's length is the positions rounded up to whole vectors; dy is zero past them and at the dropped ones.
            int ldq = (l.Positions + TKernel.Lanes - 1) / TKernel.Lanes * TKernel.Lanes;
            int xStride = (int)((l.Length(TKernel.NR) + 15) / 16 * 16), dyStride = mg * ldq;
            float* padded = AlignedBuffer.Of(ref t_padded, (long)chunk * xStride);
            float* paddedDy = AlignedBuffer.Of(ref t_dy, (long)chunk * dyStride);
            new Span<float>(padded, chunk * xStride).Clear();
            new Span<float>(paddedDy, chunk * dyStride).Clear();
            long i0 = _items * part / _parts, i1 = _items * (part + 1) / _parts;
            for (long item = i0; item < i1; item++)
            {
                int group = (int)(item % g.Groups), c = (int)(item / g.Groups);
                int n0 = c * chunk, images = Math.Min(g.Batch, n0 + chunk) - n0;
                for (int i = 0; i < images; i++)
                {
                    int n = n0 + i;
                    PhaseSplitCopy.Copy(g, l, _x + ((long)n * g.InChannels + (long)group * cg) * g.InPixels, padded + (long)i * xStride);
                    float* dOut = _dy + ((long)n * g.OutChannels + (long)group * mg) * g.OutPixels;
                    for (int m = 0; m < mg; m++)
                        for (int oy = 0; oy < oh; oy++)
                            Unsafe.CopyBlockUnaligned(paddedDy + (long)i * dyStride + (long)m * ldq + oy * wq,
                                dOut + ((long)m * oh + oy) * ow, (uint)(ow * sizeof(float)));
                }
                float* target = (c == 0 ? _dw : _partials + (long)(c - 1) * g.OutChannels * k) + (long)group * mg * k;
                bool add = c == 0 && _accumulate;
                for (int r = 0; r < mg; r += TKernel.MaxDotRows)
                {
                    int rows = Math.Min(TKernel.MaxDotRows, mg - r);
                    for (int t = 0; t < k; t += 3)
                        TKernel.RunDot(rows, Math.Min(3, k - t), images, paddedDy + (long)r * ldq, dyStride, ldq,
                            padded, xStride, _offsets + t, ldq, target + (long)r * k + t, k, add);
                }
            }
        }
    }
}
