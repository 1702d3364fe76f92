// A depthwise convolution over channels-last images (N, H, W, C) → (N, OH, OW, C), one filter per channel (groups = C =
// M, the weight (C, 1, kH, kW)): each output pixel is, for every 16 (or 8) channels at once, the bias plus the kernel's
// taps multiply-added in order (ky, kx), then the residual and the clamp — vectors along the channels, so no tap is ever
// padding and the output is written pixel by pixel, in order. On AVX-512, 3×3 kernels hold their weights in registers
// (Row3x3) and wider ones (5×5) sum four pixels at a time (RowWide): EfficientNet-B0 ORT/ours 0.92 → 0.99. The weight is
// repacked once to (kH·kW, C): a tap's channels side by side. Rows of output pixels are split between the threads; each
// output is computed by one thread in the same order whatever the thread count. Sums start from the bias, so the bits
// differ from the channels-first kernels (which add it after the taps) within float rounding.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Depthwise 2-D convolution on channels-last images.</summary>
internal static unsafe class DepthwiseChannelsLast
{
    // Output pixels of a row computed together, channel group by channel group (Row3x3).
    private const int PixelBlock = 8;

    /// <summary>True for a depthwise geometry: one input and one output channel per group.</summary>
    public static bool Applies(Conv2dGeometry g) => g.Options.Groups == g.InChannels && g.OutChannels == g.InChannels;

    /// <summary>packed[(ky·kW + kx)·C + c] = w[c, 0, ky, kx].</summary>
    public static float[] Pack(ReadOnlySpan<float> weight, int channels, int kernelH, int kernelW)
    {
        int taps = kernelH * kernelW;
        var packed = new float[taps * channels];
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < taps; t++) packed[t * channels + c] = weight[c * taps + t];
        return packed;
    }

    /// <summary>
    /// y = clamp(depthwise(x, w) + b (+ residual)): x (N, H, W, C), w packed by <see cref="Pack"/>, b (C) or null, residual and
    /// y (N, OH, OW, C).
    /// </summary>
    public static void Forward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp)
    {
        nint px = (nint)x, pw = (nint)w, pb = (nint)bias, py = (nint)y, pr = (nint)residual;
        int rows = g.Batch * g.OutHeight;
        long flops = 2L * rows * g.OutWidth * g.OutChannels * g.KernelH * g.KernelW;
        ParallelRanges.For(rows, flops, Conv2dDepthwise.ParallelFlops, (first, last) =>
        {
            for (int row = first; row < last; row++)
                Row(path, g, (float*)px, (float*)pw, (float*)pb, (float*)py, (float*)pr, clamp, row);
        });
    }

    private static void Row(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp, int row)
    {
        // The kernel rows that fall inside the image and where their input rows start: on the stack, unless a model declares an
        // absurdly tall kernel.
        Span<int> rowsOnStack = g.KernelH <= MaxStackRows ? stackalloc int[MaxStackRows] : new int[g.KernelH];
        Span<nint> inputsOnStack = g.KernelH <= MaxStackRows ? stackalloc nint[MaxStackRows] : new nint[g.KernelH];
        fixed (int* kys = rowsOnStack)
        fixed (nint* inputRows = inputsOnStack)
            Row(path, g, x, w, bias, y, residual, clamp, row, kys, (float**)inputRows);
    }

    private const int MaxStackRows = 16;

    private static void Row(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, VectorClamp clamp, int row,
        int* kys, float** inputs)
    {
        var o = g.Options;
        int c = g.InChannels, n = row / g.OutHeight, oy = row % g.OutHeight, kW = g.KernelW;
        int valid = 0;
        for (int ky = 0; ky < g.KernelH; ky++)
        {
            int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
            if (iy < 0 || iy >= g.Height) continue;
            kys[valid] = ky;
            inputs[valid++] = x + ((long)n * g.Height + iy) * g.Width * c;
        }
        long outRow = (long)row * g.OutWidth * c;
        RowFrom(path, g, kys, inputs, valid, w, bias, y + outRow, residual == null ? null : residual + outRow, clamp);
    }

    /// <summary>
    /// One output row y (OW, C) (and its residual row, or null) from the input rows of the kernel rows inside the image:
    /// kys[0..valid) and where each input row starts (inputs[·], W × C).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowFrom(KernelPath path, Conv2dGeometry g, int* kys, float** inputs, int valid, float* w, float* bias, float* y,
        float* residual, VectorClamp clamp)
    {
        var o = g.Options;
        int c = g.InChannels, kW = g.KernelW;
        long outRow = 0;
        var wide = new VectorClamp512(clamp);
        bool v512 = path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated, v256 = path != KernelPath.Scalar && Vector256.IsHardwareAccelerated;
        // The common 3×3 kernel: its weights held in registers along the row, for whole vectors of 16 channels.
        int fastChannels = 0;
        if (v512 && g.KernelH == 3 && kW == 3 && o.DilationH == 1 && o.DilationW == 1 && valid >= 1 && c >= 16)
        {
            fastChannels = c / 16 * 16;
            Row3x3(inputs, kys, valid, w, bias, y + outRow, residual == null ? null : residual + outRow, wide, c, g.Width, o.StrideW, o.PadLeft,
                g.OutWidth);
        }
        else if (v512 && kW > 3 && o.DilationW == 1 && valid >= 1 && c >= 16)
        {
            fastChannels = c / 16 * 16;
            RowWide(inputs, kys, valid, w, bias, y + outRow, residual == null ? null : residual + outRow, wide, c, g.Width, kW, o.StrideW, o.PadLeft,
                g.OutWidth);
        }
        for (int ox = 0; ox < g.OutWidth; ox++)
        {
            int ix0 = ox * o.StrideW - o.PadLeft;
            // The kernel columns inside the image: kx0 ≤ kx < kx1.
            int kx0 = 0, kx1 = kW;
            while (kx0 < kW && ix0 + kx0 * o.DilationW < 0) kx0++;
            while (kx1 > kx0 && ix0 + (kx1 - 1) * o.DilationW >= g.Width) kx1--;
            float* yo = y + outRow + (long)ox * c, ro = residual == null ? null : residual + outRow + (long)ox * c;
            int j = fastChannels;
            if (v512)
                for (; j + 16 <= c; j += 16)
                {
                    var acc = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + j);
                    for (int t = 0; t < valid; t++)
                    {
                        float* from = inputs[t] + (long)ix0 * c + j, taps = w + (long)kys[t] * kW * c + j;
                        for (int kx = kx0; kx < kx1; kx++)
                            acc = Avx512F.FusedMultiplyAdd(Vector512.Load(from + (long)kx * o.DilationW * c), Vector512.Load(taps + (long)kx * c), acc);
                    }
                    if (ro != null) acc += Vector512.Load(ro + j);
                    wide.Apply(acc).Store(yo + j);
                }
            if (v256)
                for (; j + 8 <= c; j += 8)
                {
                    var acc = bias == null ? Vector256<float>.Zero : Vector256.Load(bias + j);
                    for (int t = 0; t < valid; t++)
                    {
                        float* from = inputs[t] + (long)ix0 * c + j, taps = w + (long)kys[t] * kW * c + j;
                        for (int kx = kx0; kx < kx1; kx++)
                            acc = Fma.MultiplyAdd(Vector256.Load(from + (long)kx * o.DilationW * c), Vector256.Load(taps + (long)kx * c), acc);
                    }
                    if (ro != null) acc += Vector256.Load(ro + j);
                    clamp.Apply(acc).Store(yo + j);
                }
            for (; j < c; j++)
            {
                float acc = bias == null ? 0f : bias[j];
                for (int t = 0; t < valid; t++)
                {
                    float* from = inputs[t] + (long)ix0 * c + j, taps = w + (long)kys[t] * kW * c + j;
                    for (int kx = kx0; kx < kx1; kx++) acc = MathF.FusedMultiplyAdd(from[(long)kx * o.DilationW * c], taps[(long)kx * c], acc);
                }
                if (ro != null) acc += ro[j];
                yo[j] = clamp.Apply(acc);
            }
        }
    }

    // One output row of a 3×3 kernel (dilation 1), channels in whole vectors of 16: the kernel rows inside the image are
    // kys[0..valid), their input rows at inputs[·]; the same sums, in the same order, as Row's general loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row3x3(float** inputs, int* kys, int valid, float* w, float* bias, float* y, float* residual, VectorClamp512 clamp,
        int c, int width, int stride, int padLeft, int outWidth)
    {
        // Eight output pixels at a time, all their channels before the next eight: the three input rows of eight pixels stay in
        // L1 while each group of 16 channels loads its weights once (channel by channel across a whole 56-pixel row, the rows
        // of 144 channels came from L2 nine times: MobileNetV2's 56×56 layer at batch 8 1.80 → ms).
        for (int x0 = 0; x0 < outWidth; x0 += PixelBlock)
        for (int j = 0; j + 16 <= c; j += 16)
        {
            int x1 = Math.Min(outWidth, x0 + PixelBlock);
            float* wa = w + kys[0] * 3 * c + j, wb = w + kys[Math.Min(1, valid - 1)] * 3 * c + j, wc = w + kys[valid - 1] * 3 * c + j;
            var (a0, a1, a2) = (Vector512.Load(wa), Vector512.Load(wa + c), Vector512.Load(wa + 2 * c));
            var (b0, b1, b2) = (Vector512.Load(wb), Vector512.Load(wb + c), Vector512.Load(wb + 2 * c));
            var (c0, c1, c2) = (Vector512.Load(wc), Vector512.Load(wc + c), Vector512.Load(wc + 2 * c));
            var start = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + j);
            float* pa = inputs[0] + j, pb = inputs[Math.Min(1, valid - 1)] + j, pc = inputs[valid - 1] + j;
            float* yo = y + (long)x0 * c + j, ro = residual == null ? null : residual + (long)x0 * c + j;
            for (int ox = x0, ix = x0 * stride - padLeft; ox < x1; ox++, ix += stride, yo += c)
            {
                var acc = start;
                if (ix >= 0 && ix + 2 < width)
                {
                    long at = (long)ix * c;
                    acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pa + at), a0, acc);
                    acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pa + at + c), a1, acc);
                    acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pa + at + 2 * c), a2, acc);
                    if (valid >= 2)
                    {
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pb + at), b0, acc);
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pb + at + c), b1, acc);
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pb + at + 2 * c), b2, acc);
                    }
                    if (valid == 3)
                    {
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pc + at), c0, acc);
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pc + at + c), c1, acc);
                        acc = Avx512F.FusedMultiplyAdd(Vector512.Load(pc + at + 2 * c), c2, acc);
                    }
                }
                else
                {
                    acc = EdgeRow(acc, pa, a0, a1, a2, ix, width, c);
                    if (valid >= 2) acc = EdgeRow(acc, pb, b0, b1, b2, ix, width, c);
                    if (valid == 3) acc = EdgeRow(acc, pc, c0, c1, c2, ix, width, c);
                }
                if (ro != null) { acc += Vector512.Load(ro); ro += c; }
                clamp.Apply(acc).Store(yo);
            }
        }
    }

    // One output row of a kernel wider than 3 (the 5×5 of MNASNet, EfficientNet and MobileNetV3; dilation 1 along the row),
    // channels in whole vectors of 16: four output pixels at a time keep their sums in registers while each weight vector
    // is loaded once for the four (the general loop loaded one per tap and pixel). A tap outside the image is skipped, so
    // each output gets the same sums in the same order (ky, kx) as the general loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowWide(float** inputs, int* kys, int valid, float* w, float* bias, float* y, float* residual, VectorClamp512 clamp,
        int c, int width, int kW, int stride, int padLeft, int outWidth)
    {
        for (int x0 = 0; x0 < outWidth; x0 += 4)
        for (int j = 0; j + 16 <= c; j += 16)
        {
            int count = Math.Min(4, outWidth - x0), first = x0 * stride - padLeft;
            var start = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + j);
            var (s0, s1, s2, s3) = (start, start, start, start);
            for (int t = 0; t < valid; t++)
            {
                float* row = inputs[t] + j, taps = w + (long)kys[t] * kW * c + j;
                for (int kx = 0; kx < kW; kx++)
                {
                    var tap = Vector512.Load(taps + (long)kx * c);
                    int ix = first + kx;
                    if ((uint)ix < (uint)width) s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (long)ix * c), tap, s0);
                    if (count > 1 && (uint)(ix += stride) < (uint)width) s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (long)ix * c), tap, s1);
                    if (count > 2 && (uint)(ix += stride) < (uint)width) s2 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (long)ix * c), tap, s2);
                    if (count > 3 && (uint)(ix += stride) < (uint)width) s3 = Avx512F.FusedMultiplyAdd(Vector512.Load(row + (long)ix * c), tap, s3);
                }
            }
            float* yo = y + (long)x0 * c + j, ro = residual == null ? null : residual + (long)x0 * c + j;
            clamp.Apply(ro == null ? s0 : s0 + Vector512.Load(ro)).Store(yo);
            if (count > 1) clamp.Apply(ro == null ? s1 : s1 + Vector512.Load(ro + c)).Store(yo + c);
            if (count > 2) clamp.Apply(ro == null ? s2 : s2 + Vector512.Load(ro + 2 * c)).Store(yo + 2 * c);
            if (count > 3) clamp.Apply(ro == null ? s3 : s3 + Vector512.Load(ro + 3 * c)).Store(yo + 3 * c);
        }
    }

    // The taps of one kernel row at input columns ix, ix + 1, ix + 2 that fall inside the image, in that order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> EdgeRow(Vector512<float> acc, float* p, Vector512<float> w0, Vector512<float> w1, Vector512<float> w2,
        int ix, int width, int c)
    {
        if (ix >= 0 && ix < width) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(p + (long)ix * c), w0, acc);
        if (ix + 1 >= 0 && ix + 1 < width) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(p + (long)(ix + 1) * c), w1, acc);
        if (ix + 2 >= 0 && ix + 2 < width) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(p + (long)(ix + 2) * c), w2, acc);
        return acc;
    }
}
