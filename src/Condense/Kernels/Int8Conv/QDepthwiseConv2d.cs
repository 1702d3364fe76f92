// The int8 depthwise convolution of quantized inference on NCHW images (MobileNet's 3×3 layers): groups = C input
// channels, M = k·C output channels (channel multiplier k, usually 1), weight (M, 1, kH, kW), output channel o filtering
// input channel o / k alone:
//   acc[n, o, oy, ox] = Σ_{kh,kw} (x[n, o/k, iy, ix] − z_x) · w[o, 0, kh, kw] + bias32[o],
// with x − z_x = 0 where the window leaves the image, then requantized per channel as QConv2d (Requantize.RowCore).
// Two forms, giving the same integers for any thread count (and ForwardChannelsLast on the (N, H, W, C) codes the integer
// engine keeps between layers on the emitted-kernel path: QDepthwiseConv2d.ChannelsLast.cs on AVX-512, else the lanes form):
//   channels in lanes (QDepthwiseConv2d.Lanes.cs, the default on AVX2 for k = 1): eight channels of one image per work
//     item, transposed into a padded pixel-major buffer so one vector holds a pixel's eight channels; the fast form.
//   planar (this file: the Scalar path, k > 1 and a last block of fewer than eight channels): each output row of one
//     plane is summed tap by tap, one weight times a run of input pixels cut to where the tap stays inside the image (no
//     padded copy); strides 1 and 2 add 8 pixels a step (Vector256<int>). Planes split over threads whole.
// QConv2dReference.Forward (groups = C) is the spec.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Integer depthwise 2-D convolution (groups = input channels) on NCHW uint8 images.</summary>
public static unsafe partial class QDepthwiseConv2d
{
    /// <summary>True when <paramref name="g"/> is depthwise: one group per input channel, output channels a multiple of them.</summary>
    public static bool IsDepthwise(Conv2dGeometry g)
    {
        ArgumentNullException.ThrowIfNull(g);
        return g.Groups == g.InChannels && g.OutChannels % g.InChannels == 0;
    }

    /// <summary>
    /// y (N, M, OH, OW) uint8 = clamp(z_y + requant(acc, multiplier[o], shift[o]), qmin, qmax) for x (N, C, H, W) uint8 with
    /// zero point <paramref name="xZeroPoint"/> and <paramref name="weight"/> (M, 1, kH, kW) int8; bias empty or (M).
    /// </summary>
    public static void ForwardRequantized(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, ReadOnlySpan<sbyte> weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        CheckRequantized(g, x.Length, weight.Length, bias.Length, multiplier, shift, qmin, qmax, y.Length);
        fixed (byte* px = x, py = y)
        fixed (sbyte* pw = weight)
        fixed (int* pb = bias, pm = multiplier, ps = shift)
            Run(new Job(Cpu.Active, g, px, xZeroPoint, pw, bias.IsEmpty ? null : pb, pm, ps, yZeroPoint, qmin, qmax, py, null));
    }

    private static void CheckRequantized(Conv2dGeometry g, int xLength, int weightLength, int biasLength, ReadOnlySpan<int> multiplier,
        ReadOnlySpan<int> shift, byte qmin, byte qmax, int yLength)
    {
        Check(g, xLength, weightLength, biasLength, yLength);
        if (multiplier.Length != g.OutChannels || shift.Length != g.OutChannels)
            throw new ArgumentException($"multiplier and shift need {g.OutChannels} values, got {multiplier.Length} and {shift.Length}");
        Requantize.CheckShifts(shift);
        if (qmin > qmax) throw new ArgumentException($"qmin {qmin} exceeds qmax {qmax}");
    }

    /// <summary>
    /// True when <see cref="ForwardChannelsLast"/> runs on channels-last codes without transposes: the AVX-512 kernel
    /// (QDepthwiseConv2d.ChannelsLast.cs, C a multiple of 16) or the channels-in-lanes form on whole blocks of eight
    /// channels (C a multiple of 8), one output channel per input channel.
    /// </summary>
    internal static bool ChannelsLastIsNative(Conv2dGeometry g) =>
        UsesChannelsLast512(Cpu.Active, g) || (UsesLanes(Cpu.Active, g) && g.InChannels % Lanes == 0);

    /// <summary>
    /// <see cref="ForwardRequantized"/> on x (N, H, W, C) into y (N, OH, OW, M), both channels-last: a block of eight channels
    /// is gathered from (written to) every pixel's eight bytes instead of transposed from (to) eight planes. Where
    /// <see cref="ChannelsLastIsNative"/> is false the codes are transposed to planes and back around the planar call. The
    /// AVX-512 kernel keeps <paramref name="weight"/> in its lanes form between calls, so the array must not change.
    /// </summary>
    internal static void ForwardChannelsLast(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, sbyte[] weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        CheckRequantized(g, x.Length, weight.Length, bias.Length, multiplier, shift, qmin, qmax, y.Length);
        if (!ChannelsLastIsNative(g))
        {
            var planarX = new byte[x.Length];
            var planarY = new byte[y.Length];
            ChannelsLast.ToPlanar(x, g.Batch, g.InChannels, g.InPixels, planarX);
            ForwardRequantized(g, planarX, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, planarY);
            ChannelsLast.FromPlanar(planarY, g.Batch, g.OutChannels, g.OutPixels, y);
            return;
        }
        fixed (byte* px = x, py = y)
        fixed (sbyte* pw = weight)
        fixed (int* pb = bias, pm = multiplier, ps = shift)
        {
            if (UsesChannelsLast512(Cpu.Active, g))
                ChannelsLast512(g, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, pm, ps, yZeroPoint, qmin, qmax, py);
            else
                Run(new Job(Cpu.Active, g, px, xZeroPoint, pw, bias.IsEmpty ? null : pb, pm, ps, yZeroPoint, qmin, qmax, py, null) { ChannelsLast = true });
        }
    }

    /// <summary>The int32 accumulators acc (N, M, OH, OW) of <see cref="ForwardRequantized"/>, before requantization.</summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, ReadOnlySpan<sbyte> weight, ReadOnlySpan<int> bias, Span<int> acc)
    {
        Check(g, x.Length, weight.Length, bias.Length, acc.Length);
        fixed (byte* px = x)
        fixed (sbyte* pw = weight)
        fixed (int* pb = bias, pa = acc)
            Run(new Job(Cpu.Active, g, px, xZeroPoint, pw, bias.IsEmpty ? null : pb, null, null, 0, 0, 0, null, pa));
    }

    /// <summary>
    /// Below this many flops the convolution runs on one thread: MobileNetV2's smallest depthwise layers (0.5 Mflop, 576×7×7
    /// stride 2) take 0.1 ms, and splitting them still pays.
    /// </summary>
    internal const long ParallelFlops = 300_000;

    private static void Run(Job job)
    {
        var g = job.G;
        int parts = g.Flops < ParallelFlops ? 1 : (int)Math.Min(Cpu.Threads, job.Units);
        job.Parts = parts;
        if (parts <= 1) job.Execute(0);
        else WorkerPool.Run(job, parts);
    }

    // The requantized planar form sums a plane into its own scratch.
    [ThreadStatic] private static int[]? t_sums, t_multipliers, t_shifts;

    /// <summary>
    /// Units of work, part p taking a contiguous run: with lanes, (image, block of eight channels), a last block of fewer
    /// channels running planar; otherwise output planes (image, channel).
    /// </summary>
    private sealed class Job(KernelPath path, Conv2dGeometry g, byte* x, byte xZeroPoint, sbyte* weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc) : IParallelJob
    {
        private readonly byte* _x = x, _y = y;
        private readonly sbyte* _w = weight;
        private readonly int* _bias = bias, _multiplier = multiplier, _shift = shift, _acc = acc;
        private readonly bool _lanes = UsesLanes(path, g);

        public Conv2dGeometry G => g;

        /// <summary>x and y are channels-last (N, H, W, C); only with lanes on whole blocks (<see cref="ChannelsLastIsNative"/>).</summary>
        public bool ChannelsLast { get; init; }
        public long Units => _lanes ? (long)g.Batch * LaneBlocks(g) : (long)g.Batch * g.OutChannels;
        public int Parts { get; set; } = 1;

        public void Execute(int part)
        {
            long units = Units, u0 = units * part / Parts, u1 = units * (part + 1) / Parts;
            if (!_lanes) { Planes((int)u0, (int)u1); return; }
            int blocks = LaneBlocks(g);
            var buffers = new LaneBuffers(g, xZeroPoint, _y is null);
            var output = new LaneOutput(_multiplier, _shift, yZeroPoint, qmin, qmax, _y, _acc, ChannelsLast);
            for (long unit = u0; unit < u1; unit++)
            {
                int n = (int)(unit / blocks), c0 = (int)(unit % blocks) * Lanes;
                if (c0 + Lanes <= g.InChannels) LaneBlock(g, buffers, n, c0, _x, xZeroPoint, _w, _bias, output, ChannelsLast);
                else Planes(n * g.OutChannels + c0, (n + 1) * g.OutChannels);
            }
        }

        // Output planes [first, last), planar.
        private void Planes(int first, int last)
        {
            int pixels = g.OutPixels, taps = g.KernelH * g.KernelW, k = g.OutChannels / g.InChannels;
            bool vector = path != KernelPath.Scalar && Avx2.IsSupported;
            var columns = Columns(g);
            // RowCore reads a multiplier and shift per value: the plane's channel's, refilled per plane (the thread's buffers).
            int* pSums = null, pm = null, ps = null;
            if (_y is not null)
            {
                pSums = AlignedBuffer.Of(ref t_sums, pixels);
                pm = AlignedBuffer.Of(ref t_multipliers, pixels);
                ps = AlignedBuffer.Of(ref t_shifts, pixels);
            }
            fixed (int* pc = columns)
                for (int plane = first; plane < last; plane++)
                {
                    int n = plane / g.OutChannels, o = plane % g.OutChannels;
                    byte* input = _x + ((long)n * g.InChannels + o / k) * g.InPixels;
                    int b = _bias is null ? 0 : _bias[o];
                    int* output = _y is null ? _acc + (long)plane * pixels : pSums;
                    for (int oy = 0; oy < g.OutHeight; oy++)
                        SumRow(vector, g, pc, input, xZeroPoint, _w + (long)o * taps, b, oy, output + (long)oy * g.OutWidth);
                    if (_y is null) continue;
                    new Span<int>(pm, pixels).Fill(_multiplier[o]);
                    new Span<int>(ps, pixels).Fill(_shift[o]);
                    Requantize.RowCore(path, pSums, pm, ps, pixels, yZeroPoint, qmin, qmax, _y + (long)plane * pixels);
                }
        }
    }

    // Per kernel column kw: (offset, lo, hi) with ix = ox·sW + offset inside [0, W) exactly for ox in [lo, hi).
    private static int[] Columns(Conv2dGeometry g)
    {
        var o = g.Options;
        int sw = o.StrideW;
        var columns = new int[3 * g.KernelW];
        for (int kw = 0; kw < g.KernelW; kw++)
        {
            int offset = kw * o.DilationW - o.PadLeft;
            int lo = offset >= 0 ? 0 : (-offset + sw - 1) / sw;
            int hi = Math.Min(g.OutWidth, g.Width - 1 - offset < 0 ? 0 : (g.Width - 1 - offset) / sw + 1);
            (columns[3 * kw], columns[3 * kw + 1], columns[3 * kw + 2]) = (offset, lo, hi);
        }
        return columns;
    }

    // sums[ox] = bias + Σ_taps (x[iy, ix] − z_x)·w over the taps inside the image, for output row oy of one plane.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumRow(bool vector, Conv2dGeometry g, int* columns, byte* x, byte xZeroPoint, sbyte* w, int bias, int oy, int* sums)
    {
        var o = g.Options;
        int ow = g.OutWidth, width = g.Width, sw = o.StrideW, kernelW = g.KernelW;
        for (int ox = 0; ox < ow; ox++) sums[ox] = bias;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int iy = oy * o.StrideH - o.PadTop + kh * o.DilationH;
            if ((uint)iy >= (uint)g.Height) continue;
            byte* line = x + (long)iy * width;
            for (int kw = 0; kw < kernelW; kw++)
            {
                int wv = w[kh * kernelW + kw], offset = columns[3 * kw], lo = columns[3 * kw + 1], hi = columns[3 * kw + 2];
                if (wv != 0 && lo < hi) AddTap(vector, line + offset, width - offset, sw, xZeroPoint, wv, lo, hi, sums);
            }
        }
    }

    // sums[ox] += (x[ox·stride] − z)·w for ox in [lo, hi), x holding `valid` bytes of the line; strides 1 and 2 eight at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTap(bool vector, byte* x, int valid, int stride, byte zeroPoint, int w, int lo, int hi, int* sums)
    {
        int ox = lo;
        if (vector && stride <= 2)
        {
            var z = Vector256.Create((int)zeroPoint);
            var wv = Vector256.Create(w);
            if (stride == 1)
                for (; ox <= hi - 8; ox += 8)
                {
                    var pixels = Avx2.ConvertToVector256Int32(x + ox);   // vpmovzxbd: 8 bytes to 8 int32
                    Vector256.Store(Vector256.Load(sums + ox) + (pixels - z) * wv, sums + ox);
                }
            else
                // 16 bytes read whole inside the line, the even ones kept as uint16 lanes, widened to int32 (vpmovzxwd).
                for (; ox <= hi - 8 && 2 * ox + 16 <= valid; ox += 8)
                {
                    var even = Vector128.Load(x + 2 * ox).AsUInt16() & Vector128.Create((ushort)0xFF);
                    var pixels = Avx2.ConvertToVector256Int32(even);
                    Vector256.Store(Vector256.Load(sums + ox) + (pixels - z) * wv, sums + ox);
                }
        }
        for (; ox < hi; ox++) sums[ox] += (x[(long)ox * stride] - zeroPoint) * w;
    }

    private static void Check(Conv2dGeometry g, int xLength, int weightLength, int biasLength, int outputLength)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!IsDepthwise(g))
            throw new ArgumentException($"a depthwise convolution needs {g.InChannels} groups and output channels a multiple of them; " +
                $"got {g.Groups} groups and {g.OutChannels} output channels");
        if (weightLength != g.OutChannels * g.KernelH * g.KernelW)
            throw new ArgumentException(
                $"the weight holds {weightLength} values; ({g.OutChannels}, 1, {g.KernelH}, {g.KernelW}) needs {g.OutChannels * g.KernelH * g.KernelW}");
        if (biasLength != 0 && biasLength != g.OutChannels) throw new ArgumentException($"bias needs {g.OutChannels} values, got {biasLength}");
        if (xLength != g.Batch * g.InChannels * g.InPixels)
            throw new ArgumentException($"x holds {xLength} values, the shape needs {g.Batch * g.InChannels * g.InPixels}");
        if (outputLength != g.Batch * g.OutChannels * g.OutPixels)
            throw new ArgumentException($"the output holds {outputLength} values, the shape needs {g.Batch * g.OutChannels * g.OutPixels}");
    }
}
