// A convolution of few input taps (C·kH·kW ≤ MaxTaps: the 3 × 3 × 3 stem of a MobileNet) from a channels-first image
// (N, C, H, W) — the graph's input — to a channels-last output (N, OH, OW, M), so the layers after it start channels-last
// without a transposition (ChannelsLastConv). Each output pixel is the bias plus every tap (c, ky, kx) in that order, one
// input value broadcast against the tap's M weights side by side (the weight packed once as (C·kH·kW, M)), sixteen or
// eight pixels of a row at a time where all their taps fall inside the image, then four; then the residual and the clamp.
// Rows of output pixels are split between the threads, each output computed by one thread in the same order whatever the
// thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Ungrouped convolution of few taps, channels-first in, channels-last out.</summary>
internal static unsafe class DirectChannelsLast
{
    /// <summary>The most taps per output (C·kH·kW) this kernel takes: beyond, a blocked kernel does better.</summary>
    public const int MaxTaps = 64;

    /// <summary>True for an ungrouped convolution of at most <see cref="MaxTaps"/> taps per output.</summary>
    public static bool Applies(Conv2dGeometry g) => g.Options.Groups == 1 && g.ColumnRows <= MaxTaps;

    /// <summary>packed[((c·kH + ky)·kW + kx)·M + m] = w[m, c, ky, kx].</summary>
    public static float[] Pack(ReadOnlySpan<float> weight, int outChannels, int taps)
    {
        var packed = new float[taps * outChannels];
        for (int m = 0; m < outChannels; m++)
            for (int t = 0; t < taps; t++) packed[t * outChannels + m] = weight[m * taps + t];
        return packed;
    }

    /// <summary>
    /// y (N, OH, OW, M) = clamp(conv(x, w) + b (+ residual)): x (N, C, H, W) channels-first, w packed by <see cref="Pack"/>, b (M) or
    /// null, residual (N, OH, OW, M) or null.
    /// </summary>
    public static void Forward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp)
    {
        if (!Applies(g)) throw new ArgumentException($"{g.ColumnRows} taps per output in {g.Options.Groups} groups: not a stem this kernel takes", nameof(g));
        nint px = (nint)x, pw = (nint)w, pb = (nint)bias, py = (nint)y, pr = (nint)residual;
        int rows = g.Batch * g.OutHeight;
        ParallelRanges.For(rows, g.Flops, Conv2dKernel.ParallelFlops, (first, last) =>
        {
            for (int row = first; row < last; row++) Row(path, g, (float*)px, (float*)pw, (float*)pb, (float*)py, (float*)pr, clamp, row);
        });
    }

    /// <summary>Output row <paramref name="row"/> (of N·OH) of <see cref="Forward"/>, at y + row·OW·M.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Row(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp, int row)
    {
        var o = g.Options;
        int m = g.OutChannels, n = row / g.OutHeight, oy = row % g.OutHeight;
        long outRow = (long)row * g.OutWidth * m;
        var wide = new VectorClamp512(clamp);
        int vectors = path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated ? m / 16 * 16 : 0;
        // Whole pixels of a row whose taps all fall inside the image: four at a time.
        int first = (o.PadLeft + o.StrideW - 1) / o.StrideW;
        int end = Math.Min(g.OutWidth, Math.Max(first, (g.Width - 1 - (g.KernelW - 1) * o.DilationW + o.PadLeft) / o.StrideW + 1));
        bool rowsInside = oy * o.StrideH - o.PadTop >= 0 && oy * o.StrideH - o.PadTop + (g.KernelH - 1) * o.DilationH < g.Height;
        float* values = stackalloc float[MaxTaps];
        int* indices = stackalloc int[MaxTaps];
        // Two vectors of channels at a time where there are two (MobileNet's 32), else one.
        for (int j = 0; j < vectors; j += 16)
        {
            bool pair = j + 32 <= vectors;
            var start = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + j);
            var startHigh = !pair || bias == null ? Vector512<float>.Zero : Vector512.Load(bias + j + 16);
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                if (rowsInside && ox >= first && ox + (pair ? 8 : 16) <= end)
                {
                    long at = outRow + (long)ox * m + j;
                    Sixteen(g, x, w + j, start, pair ? startHigh : start, pair, y + at, m, residual == null ? null : residual + at, wide, n, oy, ox);
                    ox += pair ? 7 : 15;
                    continue;
                }
                if (rowsInside && ox >= first && ox + 4 <= end)
                {
                    long at = outRow + (long)ox * m + j;
                    Four(g, x, w + j, start, startHigh, pair, y + at, residual == null ? null : residual + at, wide, n, oy, ox);
                    ox += 3;
                    continue;
                }
                for (int half = 0; half < (pair ? 2 : 1); half++) One(g, x, w + j + 16 * half, half == 0 ? start : startHigh, values, indices,
                    y + outRow + (long)ox * m + j + 16 * half, residual == null ? null : residual + outRow + (long)ox * m + j + 16 * half, wide, n, oy, ox);
            }
            if (pair) j += 16;
        }

        // Channels past the last whole vector, when there are 16 or more (ShuffleNet's 24): the vector of the last 16, 16
        // pixels at a time where their taps are inside (3.4 → 0.69 ms for ShuffleNetV2's stem, one thread), its new lanes
        // kept (the others, computed already, may have overwritten a residual they share the buffer with).
        if (vectors < m && vectors >= 16)
        {
            var tailStart = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + m - 16);
            float* lanes = stackalloc float[16 * 16];
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                long at = outRow + (long)ox * m + m - 16;
                int pixels = rowsInside && ox >= first && ox + 16 <= end ? 16 : 1;
                if (pixels == 16) Sixteen(g, x, w + m - 16, tailStart, tailStart, false, lanes, 16, residual == null ? null : residual + at, wide, n, oy, ox);
                else One(g, x, w + m - 16, tailStart, values, indices, lanes, residual == null ? null : residual + at, wide, n, oy, ox);
                for (int p = 0; p < pixels; p++)
                    new ReadOnlySpan<float>(lanes + 16 * p + vectors - (m - 16), m - vectors)
                        .CopyTo(new Span<float>(y + outRow + (long)(ox + p) * m + vectors, m - vectors));
                ox += pixels - 1;
            }
            return;
        }
        for (int ox = 0; ox < g.OutWidth && vectors < m; ox++)
        {
            int taps = Taps(g, x, n, oy, ox, values, indices);
            for (int j = vectors; j < m; j++)
            {
                float acc = bias == null ? 0f : bias[j];
                for (int t = 0; t < taps; t++) acc = MathF.FusedMultiplyAdd(values[t], w[(long)indices[t] * m + j], acc);
                long at = outRow + (long)ox * m + j;
                if (residual != null) acc += residual[at];
                y[at] = clamp.Apply(acc);
            }
        }
    }

    // Every tap of output (oy, ox) inside the image, in the order (c, ky, kx): its input value and its index c·kH·kW + ky·kW + kx;
    // returns how many.
    private static int Taps(Conv2dGeometry g, float* x, int n, int oy, int ox, float* values, int* indices)
    {
        int count = 0;
        var o = g.Options;
        for (int c = 0; c < g.InChannels; c++)
        {
            float* plane = x + ((long)n * g.InChannels + c) * g.Height * g.Width;
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
                if (iy < 0 || iy >= g.Height) continue;
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    int ix = ox * o.StrideW - o.PadLeft + kx * o.DilationW;
                    if (ix < 0 || ix >= g.Width) continue;
                    values[count] = plane[(long)iy * g.Width + ix];
                    indices[count++] = (c * g.KernelH + ky) * g.KernelW + kx;
                }
            }
        }
        return count;
    }

    // One output pixel, 16 channels, through the taps inside the image.
    private static void One(Conv2dGeometry g, float* x, float* w, Vector512<float> start, float* values, int* indices, float* y, float* residual,
        VectorClamp512 clamp, int n, int oy, int ox)
    {
        var acc = start;
        int taps = Taps(g, x, n, oy, ox, values, indices);
        for (int t = 0; t < taps; t++) acc = Avx512F.FusedMultiplyAdd(Vector512.Create(values[t]), Vector512.Load(w + (long)indices[t] * g.OutChannels), acc);
        if (residual != null) acc += Vector512.Load(residual);
        clamp.Apply(acc).Store(y);
    }

    // Outputs ox .. ox + 3 of row oy, 16 channels (32 with pair), all taps inside the image: each weight vector loaded once
    // for the four pixels, each input value once for both vectors.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Four(Conv2dGeometry g, float* x, float* w, Vector512<float> start, Vector512<float> startHigh, bool pair, float* y,
        float* residual, VectorClamp512 clamp, int n, int oy, int ox)
    {
        var o = g.Options;
        int m = g.OutChannels, step = o.StrideW;
        Vector512<float> a0 = start, a1 = start, a2 = start, a3 = start, b0 = startHigh, b1 = startHigh, b2 = startHigh, b3 = startHigh;
        for (int c = 0, tap = 0; c < g.InChannels; c++)
        {
            float* plane = x + ((long)n * g.InChannels + c) * g.Height * g.Width;
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                float* p = plane + (long)(oy * o.StrideH - o.PadTop + ky * o.DilationH) * g.Width + ox * step - o.PadLeft;
                for (int kx = 0; kx < g.KernelW; kx++, tap++, p += o.DilationW)
                {
                    var (x0, x1, x2, x3) = (Vector512.Create(p[0]), Vector512.Create(p[step]), Vector512.Create(p[2 * step]), Vector512.Create(p[3 * step]));
                    var wv = Vector512.Load(w + (long)tap * m);
                    a0 = Avx512F.FusedMultiplyAdd(x0, wv, a0);
                    a1 = Avx512F.FusedMultiplyAdd(x1, wv, a1);
                    a2 = Avx512F.FusedMultiplyAdd(x2, wv, a2);
                    a3 = Avx512F.FusedMultiplyAdd(x3, wv, a3);
                    if (!pair) continue;
                    wv = Vector512.Load(w + (long)tap * m + 16);
                    b0 = Avx512F.FusedMultiplyAdd(x0, wv, b0);
                    b1 = Avx512F.FusedMultiplyAdd(x1, wv, b1);
                    b2 = Avx512F.FusedMultiplyAdd(x2, wv, b2);
                    b3 = Avx512F.FusedMultiplyAdd(x3, wv, b3);
                }
            }
        }
        Finish(y, m, residual, m, clamp, a0, a1, a2, a3);
        if (pair) Finish(y + 16, m, residual == null ? null : residual + 16, m, clamp, b0, b1, b2, b3);
    }

    // Sixteen sums of 16 channels in registers: outputs ox .. ox + 7 of row oy, 32 channels (pair), or ox .. ox + 15, 16
    // channels; all taps inside the image. Each weight vector is loaded once per tap for 8 or 16 pixels, where Four loads
    // it for 4: the 3 × 3 × 3 stems at 224×224 (3 → 32 and 3 → 16 at stride 2) went 1.1–1.6× and 1.4× faster on one and two
    // threads (both tilings alternating in one process, the 2-core AMD machine; `bench stem` compares the kernel with ORT).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sixteen(Conv2dGeometry g, float* x, float* w, Vector512<float> start, Vector512<float> startHigh, bool pair, float* y,
        int yStride, float* residual, VectorClamp512 clamp, int n, int oy, int ox)
    {
        var o = g.Options;
        int m = g.OutChannels, step = o.StrideW, kernelW = g.KernelW, dilation = o.DilationW;
        Vector512<float> a0 = start, a1 = start, a2 = start, a3 = start, a4 = start, a5 = start, a6 = start, a7 = start;
        Vector512<float> b0 = startHigh, b1 = startHigh, b2 = startHigh, b3 = startHigh, b4 = startHigh, b5 = startHigh, b6 = startHigh, b7 = startHigh;
        float* tapWeights = w;
        for (int c = 0; c < g.InChannels; c++)
        {
            float* plane = x + ((long)n * g.InChannels + c) * g.Height * g.Width;
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                float* p = plane + (long)(oy * o.StrideH - o.PadTop + ky * o.DilationH) * g.Width + ox * step - o.PadLeft;
                for (int kx = 0; kx < kernelW; kx++, p += dilation, tapWeights += m)
                {
                    var wv = Vector512.Load(tapWeights);
                    var x0 = Vector512.Create(p[0]); a0 = Avx512F.FusedMultiplyAdd(x0, wv, a0);
                    var x1 = Vector512.Create(p[step]); a1 = Avx512F.FusedMultiplyAdd(x1, wv, a1);
                    var x2 = Vector512.Create(p[2 * step]); a2 = Avx512F.FusedMultiplyAdd(x2, wv, a2);
                    var x3 = Vector512.Create(p[3 * step]); a3 = Avx512F.FusedMultiplyAdd(x3, wv, a3);
                    var x4 = Vector512.Create(p[4 * step]); a4 = Avx512F.FusedMultiplyAdd(x4, wv, a4);
                    var x5 = Vector512.Create(p[5 * step]); a5 = Avx512F.FusedMultiplyAdd(x5, wv, a5);
                    var x6 = Vector512.Create(p[6 * step]); a6 = Avx512F.FusedMultiplyAdd(x6, wv, a6);
                    var x7 = Vector512.Create(p[7 * step]); a7 = Avx512F.FusedMultiplyAdd(x7, wv, a7);
                    if (pair)
                    {
                        wv = Vector512.Load(tapWeights + 16);
                        b0 = Avx512F.FusedMultiplyAdd(x0, wv, b0); b1 = Avx512F.FusedMultiplyAdd(x1, wv, b1);
                        b2 = Avx512F.FusedMultiplyAdd(x2, wv, b2); b3 = Avx512F.FusedMultiplyAdd(x3, wv, b3);
                        b4 = Avx512F.FusedMultiplyAdd(x4, wv, b4); b5 = Avx512F.FusedMultiplyAdd(x5, wv, b5);
                        b6 = Avx512F.FusedMultiplyAdd(x6, wv, b6); b7 = Avx512F.FusedMultiplyAdd(x7, wv, b7);
                        continue;
                    }
                    float* q = p + 8 * step;
                    b0 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[0]), wv, b0); b1 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[step]), wv, b1);
                    b2 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[2 * step]), wv, b2); b3 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[3 * step]), wv, b3);
                    b4 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[4 * step]), wv, b4); b5 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[5 * step]), wv, b5);
                    b6 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[6 * step]), wv, b6); b7 = Avx512F.FusedMultiplyAdd(Vector512.Create(q[7 * step]), wv, b7);
                }
            }
        }
        Finish(y, yStride, residual, m, clamp, a0, a1, a2, a3);
        Finish(y + 4 * yStride, yStride, residual == null ? null : residual + 4 * m, m, clamp, a4, a5, a6, a7);
        (long second, long secondResidual) = pair ? (16, 16) : (8L * yStride, 8L * m);
        Finish(y + second, yStride, residual == null ? null : residual + secondResidual, m, clamp, b0, b1, b2, b3);
        Finish(y + second + 4 * yStride, yStride, residual == null ? null : residual + secondResidual + 4 * m, m, clamp, b4, b5, b6, b7);
    }

    // Four pixels' 16 channels: + residual, clamp, store (pixels `yStride` apart in y, m apart in the residual).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(float* y, int yStride, float* residual, int m, VectorClamp512 clamp, Vector512<float> a0, Vector512<float> a1,
        Vector512<float> a2, Vector512<float> a3)
    {
        if (residual != null)
        {
            a0 += Vector512.Load(residual); a1 += Vector512.Load(residual + m);
            a2 += Vector512.Load(residual + 2 * m); a3 += Vector512.Load(residual + 3 * m);
        }
        clamp.Apply(a0).Store(y); clamp.Apply(a1).Store(y + yStride); clamp.Apply(a2).Store(y + 2 * yStride); clamp.Apply(a3).Store(y + 3 * yStride);
    }
}
