// The depthwise convolution (groups = C, M = k·C: output channel m reads input channel m / k alone; MobileNets' 3×3
// layers, Howard et al. 2017). The direct kernel runs it one group at a time with a K of kH·kW taps, and its per-group copy,
// panel and tile set-up cost more than the nine multiply-adds per output (2–3 GFLOP/s). Two forms here, each output summed
// from the bias, one FMA per tap in tap order, so both give the same bits for any thread count:
//   planar (this file): a plane is copied into its padded, phase-split form (PhaseSplitImage with one channel), so every tap
//     of padded output position q = oy·Wq + ox is the contiguous run at q + offset(tap); 32 positions at a time, then each
//     row of OW outputs leaves for y (the Wq − OW dropped columns are not copied). Best on wide planes.
//   channels in lanes (Conv2dDepthwise.Lanes.cs): eight channels transposed into one padded pixel-major buffer, one vector
//     per pixel holding its eight channels (as MLAS's NCHWc depthwise kernels), so a narrow or strided plane costs no row
//     tails or phase split; transposed back on the way out.
// The epilogue is + residual, then max(·, 0), then min(·, max) (ReLU6), in the order the separate Add, Relu and Clip ops
// compute it.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Depthwise 2-D convolution over NCHW float32 planes, one plane per work item.</summary>
internal static unsafe partial class Conv2dDepthwise
{
    /// <summary>Output positions computed at once: four vectors of eight.</summary>
    private const int Block = 32;

    /// <summary>Below this many flops a depthwise convolution runs on one thread (MobileNetV2's smallest are 0.5 Mflop, 0.1 ms).</summary>
    internal const long ParallelFlops = 300_000;

    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static int[]? t_offsets;

    /// <summary>True for a depthwise convolution (more than one group, one input channel each) on a CPU with 256-bit FMA.</summary>
    public static bool Applies(Conv2dGeometry g) =>
        g.Options.Groups > 1 && g.InPerGroup == 1 && Cpu.Active != KernelPath.Scalar && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// y = conv(x, w) + b (b null: none), then y += residual when not null (same shape as y), then the clamp; x (N, C, H, W),
    /// w (M, 1, kH, kW), y (N, M, OH, OW).
    /// </summary>
    public static void Forward(Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp)
    {
        long planes = (long)g.Batch * g.OutChannels;
        if (planes == 0) return;
        var layout = new PhaseSplitImage(g, 1);
        int taps = g.KernelH * g.KernelW;
        if (t_offsets is null || t_offsets.Length < taps) t_offsets = new int[taps];
        for (int kh = 0, t = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++) t_offsets[t++] = layout.TapOffset(0, kh, kw);
        bool lanes = UsesLanes(g);
        long units = lanes ? (long)g.Batch * ((g.InChannels + Lanes - 1) / Lanes) : planes;
        int parts = (int)Math.Min(g.Flops >= ParallelFlops ? Cpu.Threads : 1, units);
        var job = t_job ??= new Job();
        fixed (int* offsets = t_offsets)
        {
            job.Set(g, layout, x, w, bias, y, residual, clamp, offsets, lanes, units, parts);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    /// <summary>
    /// sums[q] = start + Σ_t w[t]·padded[q + offsets[t]] for q &lt; <paramref name="positions"/> rounded up to
    /// <see cref="Block"/>, summed in tap order from start = <paramref name="bias"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Plane(float* padded, int positions, float* w, int* offsets, int taps, float bias, float* sums)
    {
        var start = Vector256.Create(bias);
        for (int q = 0; q < positions; q += Block)
        {
            var (s0, s1, s2, s3) = (start, start, start, start);
            float* at = padded + q;
            for (int t = 0; t < taps; t++)
            {
                var wt = Vector256.Create(w[t]);
                float* p = at + offsets[t];
                s0 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p), s0);
                s1 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + 24), s3);
            }
            s0.Store(sums + q); s1.Store(sums + q + 8); s2.Store(sums + q + 16); s3.Store(sums + q + 24);
        }
    }

    /// <summary>y[oy·OW + ox] = epilogue(sums[oy·Wq + ox]) for every output row: + residual, then the clamp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteRows(float* sums, int wq, int oh, int ow, float* y, float* residual, VectorClamp clamp)
    {
        if (residual is null && clamp.IsEmpty)
        {
            for (int oy = 0; oy < oh; oy++) PhaseSplitCopy.CopyRow(y + (long)oy * ow, sums + (long)oy * wq, ow);
            return;
        }
        for (int oy = 0; oy < oh; oy++)
        {
            float* from = sums + (long)oy * wq, to = y + (long)oy * ow, add = residual is null ? null : residual + (long)oy * ow;
            int ox = 0;
            for (; ox + 8 <= ow; ox += 8)
            {
                var v = Vector256.Load(from + ox);
                if (add is not null) v += Vector256.Load(add + ox);
                clamp.Apply(v).Store(to + ox);
            }
            for (; ox < ow; ox++)
            {
                float v = from[ox];
                if (add is not null) v += add[ox];
                to[ox] = clamp.Apply(v);
            }
        }
    }

    /// <summary>
    /// Units of work, part p taking a contiguous run: with lanes, (image, block of eight channels), a last block of fewer
    /// channels running planar; otherwise output planes (image, channel).
    /// </summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static float[]? t_padded, t_sums, t_lanes, t_laneSums;

        private Conv2dGeometry _g = null!;
        private PhaseSplitImage _layout;
        private long _units;
        private int _parts;
        private bool _lanes;
        private VectorClamp _clamp;
        private float* _x, _w, _bias, _y, _residual;
        private int* _offsets;

        public void Set(Conv2dGeometry g, PhaseSplitImage layout, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp,
            int* offsets, bool lanes, long units, int parts)
        {
            (_g, _layout, _clamp, _lanes, _units, _parts) = (g, layout, clamp, lanes, units, parts);
            _x = x; _w = w; _bias = bias; _y = y; _residual = residual; _offsets = offsets;
        }

        public void Clear() { _x = _w = _bias = _y = _residual = null; _offsets = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var g = _g;
            long u0 = _units * part / _parts, u1 = _units * (part + 1) / _parts;
            if (!_lanes) { Planes(u0, u1); return; }
            int blocks = (g.InChannels + Lanes - 1) / Lanes;
            var lanes = new LaneBuffers(g, AlignedBuffer.Of(ref t_lanes, LaneInputLength(g)), AlignedBuffer.Of(ref t_laneSums, LaneOutputLength(g)));
            for (long unit = u0; unit < u1; unit++)
            {
                int n = (int)(unit / blocks), c0 = (int)(unit % blocks) * Lanes;
                if (c0 + Lanes <= g.InChannels) LaneBlock(g, lanes, n, c0, _x, _w, _bias, _y, _residual, _clamp);
                else Planes((long)n * g.OutChannels + c0, (long)(n + 1) * g.OutChannels);
            }
        }

        // Output planes p0 .. p1 − 1, planar.
        private void Planes(long p0, long p1)
        {
            var (g, l) = (_g, _layout);
            int taps = g.KernelH * g.KernelW, multiplier = g.OutPerGroup, pixels = g.OutPixels;
            int length = checked((int)l.Length(Block));
            float* padded = AlignedBuffer.Of(ref t_padded, length), sums = AlignedBuffer.Of(ref t_sums, l.PaddedPositions(Block));
            new Span<float>(padded, length).Clear(); // every plane writes the same interior: the border stays zero
            long copied = -1;
            for (long plane = p0; plane < p1; plane++)
            {
                // Output plane (n, m) reads input plane (n, m / multiplier): n·C + m / multiplier = plane / multiplier.
                long source = plane / multiplier;
                if (source != copied) PhaseSplitCopy.Copy(g, l, _x + source * g.InPixels, padded);
                copied = source;
                int m = (int)(plane % g.OutChannels);
                Plane(padded, l.Positions, _w + (long)m * taps, _offsets, taps, _bias is null ? 0f : _bias[m], sums);
                WriteRows(sums, l.Wq, g.OutHeight, g.OutWidth, _y + plane * pixels, _residual is null ? null : _residual + plane * pixels, _clamp);
            }
        }
    }
}
