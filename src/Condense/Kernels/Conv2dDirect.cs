// The direct stride-1 convolution: no im2col at all. The image is copied once into a zero-padded buffer
// (C/g, Hp, Wp) and the output computed over "padded output positions" q = oy·Wp + ox, ox < Wp: output
// (oy, ox) reads padded input (oy + kh·dH, ox + kw·dW), i.e. position q + offset(c, kh, kw) with
// offset = c·Hp·Wp + kh·dH·Wp + kw·dW, so a run of NR consecutive q is one contiguous load per tap, for
// any image width. The Wp − OW positions past each output row's end are computed and dropped (OW/Wp of
// the lanes are useful: 28/32 for LeNet's conv1, 10/14 for conv2, 7/9 for a padded 7×7). The tiles are
// the kernels' channel rows × NR positions (ConvMicroKernel*.cs); items are (image, group), each owning
// its outputs, so the bits do not depend on the thread count.
using System.Runtime.CompilerServices;

namespace Condense.Kernels;

/// <summary>Stride-1 forward convolution reading taps straight from a padded copy of the image.</summary>
internal static unsafe class Conv2dDirect<TKernel> where TKernel : struct, IConvKernel
{
    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static int[]? t_offsets;

    /// <summary>True when the direct kernel applies: stride 1 along both axes.</summary>
    public static bool Applies(Conv2dGeometry g) => g.Options.StrideH == 1 && g.Options.StrideW == 1;

    /// <summary>y (N, M, OH, OW) = conv(x, w) + b, or y += conv(x, w) when <paramref name="accumulate"/> (b null).</summary>
    public static void Forward(Conv2dGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, int threads)
    {
        long items = (long)g.Batch * g.Groups;
        if (items == 0) return;
        var o = g.Options;
        int hp = g.Height + o.PadTop + o.PadBottom, wp = g.Width + o.PadLeft + o.PadRight;
        // offsets[(c·kH + kh)·kW + kw]: where tap (c, kh, kw) of padded-output position 0 lies in the padded image.
        if (t_offsets is null || t_offsets.Length < g.ColumnRows) t_offsets = GC.AllocateUninitializedArray<int>(g.ColumnRows, pinned: true);
        int row = 0;
        for (int c = 0; c < g.InPerGroup; c++)
            for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = 0; kw < g.KernelW; kw++)
                    t_offsets[row++] = c * hp * wp + kh * o.DilationH * wp + kw * o.DilationW;
        float* packed = Conv2dFused<TKernel>.PackWeights(g, w);
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items);
        var job = t_job ??= new Job();
        fixed (int* offsets = t_offsets)
        {
            job.Set(g, hp, wp, x, packed, offsets, bias, y, accumulate, items, parts);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    /// <summary>Items (image, group); part p takes a contiguous run.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static float[]? t_padded, t_out;

        private Conv2dGeometry _g = null!;
        private int _hp, _wp, _parts;
        private long _items;
        private bool _accumulate;
        private float* _x, _w, _bias, _y;
        private int* _offsets;

        public void Set(Conv2dGeometry g, int hp, int wp, float* x, float* w, int* offsets, float* bias, float* y, bool accumulate, long items, int parts)
        {
            (_g, _hp, _wp, _accumulate, _items, _parts) = (g, hp, wp, accumulate, items, parts);
            _x = x; _w = w; _offsets = offsets; _bias = bias; _y = y;
        }

        public void Clear() { _x = _w = _bias = _y = null; _offsets = null; _g = null!; }

        public void Execute(int part)
        {
            var g = _g;
            var o = g.Options;
            int nr = TKernel.NR, k = g.ColumnRows, mg = g.OutPerGroup, cg = g.InPerGroup;
            int hp = _hp, wp = _wp, oh = g.OutHeight, ow = g.OutWidth;
            int positions = oh * wp, stride = (positions + nr - 1) / nr * nr;
            // Reads reach past the last padded plane by up to NR + Wp floats (the dropped positions): zero slack.
            long paddedCount = (long)cg * hp * wp + nr + wp;
            float* padded = Conv2dFused<TKernel>.Buffer(ref t_padded, paddedCount);
            float* output = Conv2dFused<TKernel>.Buffer(ref t_out, (long)mg * stride);
            new Span<float>(padded, checked((int)paddedCount)).Clear();
            long i0 = _items * part / _parts, i1 = _items * (part + 1) / _parts;
            for (long item = i0; item < i1; item++)
            {
                int group = (int)(item % g.Groups), n = (int)(item / g.Groups);
                float* image = _x + ((long)n * g.InChannels + (long)group * cg) * g.InPixels;
                float* y = _y + ((long)n * g.OutChannels + (long)group * mg) * g.OutPixels;
                // The interior of the padded image; the border stays zero from the clear above.
                for (int c = 0; c < cg; c++)
                    for (int iy = 0; iy < g.Height; iy++)
                        Unsafe.CopyBlockUnaligned(padded + ((long)c * hp + iy + o.PadTop) * wp + o.PadLeft,
                            image + ((long)c * g.Height + iy) * g.Width, (uint)(g.Width * sizeof(float)));
                if (_accumulate)
                    for (int m = 0; m < mg; m++)
                        for (int oy = 0; oy < oh; oy++)
                            Unsafe.CopyBlockUnaligned(output + (long)m * stride + oy * wp, y + ((long)m * oh + oy) * ow, (uint)(ow * sizeof(float)));
                for (int q = 0; q < positions; q += nr)
                    for (int pc = 0; pc < k; pc += Conv2dFused<TKernel>.KC)
                    {
                        int kc = Math.Min(Conv2dFused<TKernel>.KC, k - pc);
                        for (int r = 0; r < mg; r += TKernel.MaxRows)
                        {
                            int rows = Math.Min(TKernel.MaxRows, mg - r);
                            float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                            float* bias = _bias is null ? null : _bias + group * mg + r;
                            TKernel.RunDirect(rows, kc, a, padded + q, _offsets + pc, output + (long)r * stride + q, stride, bias, _accumulate || pc > 0);
                        }
                    }
                for (int m = 0; m < mg; m++)
                    for (int oy = 0; oy < oh; oy++)
                        Unsafe.CopyBlockUnaligned(y + ((long)m * oh + oy) * ow, output + (long)m * stride + oy * wp, (uint)(ow * sizeof(float)));
            }
        }
    }
}
