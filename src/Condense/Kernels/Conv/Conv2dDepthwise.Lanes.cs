// The channels-in-lanes form of the depthwise convolution (Conv2dDepthwise.cs): eight consecutive channels of one image are
// transposed, eight pixels at a time (GemmPack.Transpose8x8), into a zero-padded pixel-major buffer, Hp × Wp pixels of eight
// floats, so output pixel (oy, ox) of the eight channels is Σ_tap w_tap ⊙ in[(oy·sH + kh·dH)·Wp + ox·sW + kw·dW]: one aligned
// load and one FMA per tap whatever the stride, dilation or width (no phase split, no row tails). The sums, OH·OW pixels of
// eight, are transposed back into the eight NCHW planes with the epilogue. Four output pixels are summed at once.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dDepthwise
{
    /// <summary>Channels per vector in the channels-in-lanes form.</summary>
    private const int Lanes = 8;

    [ThreadStatic] private static float[]? t_laneWeights;

    /// <summary>Forces the channels-in-lanes form off (false) for tests; null or true: wherever it can run.</summary>
    internal static bool? ForceLanes { get; set; }

    /// <summary>
    /// Channels in lanes needs one input channel per output channel and at least one full block of eight. Where it runs it
    /// is the faster form (MobileNetV2's depthwise layers, one thread: 7×7 planes 2.7–3.0 → 6.3–7.0 GFLOP/s, stride 2 on
    /// 14×14 1.4 → 4.1, 112×112 stride 1 even at 9.2–9.4).
    /// </summary>
    private static bool UsesLanes(Conv2dGeometry g) => g.OutPerGroup == 1 && g.InChannels >= Lanes && (ForceLanes ?? true);

    private static long LaneInputLength(Conv2dGeometry g)
    {
        var o = g.Options;
        return (long)(g.Height + o.PadTop + o.PadBottom) * (g.Width + o.PadLeft + o.PadRight) * Lanes;
    }

    private static long LaneOutputLength(Conv2dGeometry g) => (long)g.OutPixels * Lanes;

    /// <summary>A thread's padded input (border zero, cleared once) and its sums.</summary>
    private readonly struct LaneBuffers
    {
        public LaneBuffers(Conv2dGeometry g, float* input, float* sums)
        {
            Input = input;
            Sums = sums;
            new Span<float>(input, checked((int)LaneInputLength(g))).Clear();
        }

        public float* Input { get; }
        public float* Sums { get; }
    }

    /// <summary>Output channels c0 .. c0 + 7 of image n (c0 + 8 ≤ C, one output channel per input channel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LaneBlock(Conv2dGeometry g, LaneBuffers buffers, int n, int c0, float* x, float* w, float* bias, float* y,
        float* residual, VectorClamp clamp)
    {
        var o = g.Options;
        int taps = g.KernelH * g.KernelW, wp = g.Width + o.PadLeft + o.PadRight;
        float* source = x + ((long)n * g.InChannels + c0) * g.InPixels, end = x + (long)g.Batch * g.InChannels * g.InPixels;
        TransposeIn(source, g.Height, g.Width, g.InPixels, end, buffers.Input + ((long)o.PadTop * wp + o.PadLeft) * Lanes, wp);
        if (t_laneWeights is null || t_laneWeights.Length < taps * Lanes) t_laneWeights = new float[taps * Lanes];
        fixed (float* weights = t_laneWeights)
        {
            // weights[tap·8 + i] = w[c0 + i, tap]
            for (int i = 0; i < Lanes; i++)
                for (int t = 0; t < taps; t++) weights[t * Lanes + i] = w[(long)(c0 + i) * taps + t];
            var start = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + c0);
            Sum(g, buffers.Input, wp, weights, start, buffers.Sums);
        }
        long first = ((long)n * g.OutChannels + c0) * g.OutPixels;
        TransposeOut(buffers.Sums, g.OutPixels, y + first, residual is null ? null : residual + first, clamp);
    }

    // Eight planes (plane stride `plane`) of h × w into the pixel-major buffer whose first interior pixel is `to` (row stride
    // wp pixels). A row's last < 8 pixels go through a transposed 8×8 read past the row's end, when that stays inside x.
    private static void TransposeIn(float* from, int h, int w, int plane, float* end, float* to, int wp)
    {
        float* block = stackalloc float[Lanes * Lanes];
        for (int iy = 0; iy < h; iy++)
        {
            float* src = from + (long)iy * w, dst = to + (long)iy * wp * Lanes;
            int ix = 0;
            for (; ix + Lanes <= w; ix += Lanes) GemmPack.Transpose8x8(src + ix, plane, dst + ix * Lanes, Lanes);
            int tail = w - ix;
            if (tail == 0) continue;
            if (src + 7L * plane + ix + Lanes <= end)
            {
                GemmPack.Transpose8x8(src + ix, plane, block, Lanes);
                for (int j = 0; j < tail; j++) Vector256.Load(block + j * Lanes).Store(dst + (ix + j) * Lanes);
            }
            else
                for (int j = 0; j < tail; j++)
                    for (int i = 0; i < Lanes; i++) dst[(ix + j) * Lanes + i] = src[(long)i * plane + ix + j];
        }
    }

    // sums[(oy·OW + ox)·8 + i] = start[i] + Σ_tap weights[tap·8 + i]·input[((oy·sH + kh·dH)·wp + ox·sW + kw·dW)·8 + i], four
    // pixels at a time.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sum(Conv2dGeometry g, float* input, int wp, float* weights, Vector256<float> start, float* sums)
    {
        var o = g.Options;
        int oh = g.OutHeight, ow = g.OutWidth, kh = g.KernelH, kw = g.KernelW;
        int step = o.StrideW * Lanes, rowStep = o.DilationH * wp * Lanes, tapStep = o.DilationW * Lanes;
        for (int oy = 0; oy < oh; oy++)
        {
            float* row = input + (long)oy * o.StrideH * wp * Lanes, output = sums + (long)oy * ow * Lanes;
            int ox = 0;
            for (; ox + 4 <= ow; ox += 4)
            {
                var (s0, s1, s2, s3) = (start, start, start, start);
                float* weight = weights;
                for (int r = 0; r < kh; r++)
                {
                    float* p = row + r * rowStep + ox * step;
                    for (int c = 0; c < kw; c++, p += tapStep, weight += Lanes)
                    {
                        var wt = Vector256.Load(weight);
                        s0 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p), s0);
                        s1 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + step), s1);
                        s2 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + 2 * step), s2);
                        s3 = Vector256.FusedMultiplyAdd(wt, Vector256.Load(p + 3 * step), s3);
                    }
                }
                float* at = output + ox * Lanes;
                s0.Store(at); s1.Store(at + Lanes); s2.Store(at + 2 * Lanes); s3.Store(at + 3 * Lanes);
            }
            for (; ox < ow; ox++)
            {
                var s = start;
                float* weight = weights;
                for (int r = 0; r < kh; r++)
                {
                    float* p = row + r * rowStep + ox * step;
                    for (int c = 0; c < kw; c++, p += tapStep, weight += Lanes)
                        s = Vector256.FusedMultiplyAdd(Vector256.Load(weight), Vector256.Load(p), s);
                }
                s.Store(output + ox * Lanes);
            }
        }
    }

    // y[i·pixels + p] = epilogue(sums[p·8 + i]) for the eight planes, eight pixels at a time; the last < 8 pixels again as
    // the last eight (the same values written twice) when there is no residual to add twice, else one by one.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeOut(float* sums, int pixels, float* y, float* residual, VectorClamp clamp)
    {
        float* block = stackalloc float[Lanes * Lanes];
        int p = 0;
        for (; p + Lanes <= pixels; p += Lanes) OutBlock(sums + p * Lanes, pixels, y + p, residual is null ? null : residual + p, clamp, block);
        if (p == pixels) return;
        if (residual is null && pixels >= Lanes) { OutBlock(sums + (pixels - Lanes) * Lanes, pixels, y + pixels - Lanes, null, clamp, block); return; }
        for (; p < pixels; p++)
            for (int i = 0; i < Lanes; i++)
            {
                long at = (long)i * pixels + p;
                float v = sums[p * Lanes + i];
                if (residual is not null) v += residual[at];
                y[at] = clamp.Apply(v);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutBlock(float* sums, int pixels, float* y, float* residual, VectorClamp clamp, float* block)
    {
        if (residual is null && clamp.IsEmpty) { GemmPack.Transpose8x8(sums, Lanes, y, pixels); return; }
        GemmPack.Transpose8x8(sums, Lanes, block, Lanes);
        for (int i = 0; i < Lanes; i++)
        {
            var v = Vector256.Load(block + i * Lanes);
            if (residual is not null) v += Vector256.Load(residual + (long)i * pixels);
            clamp.Apply(v).Store(y + (long)i * pixels);
        }
    }
}
