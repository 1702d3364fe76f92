// The fp32 2-D convolution (NCHW), forward and backward. Per image n and group g (Conv2dGeometry names the
// sizes; col = im2col(x[n, g]), Im2Col.cs):
//   forward      y[n, g]  = w_g · col + b_g          (M/g × OH·OW) = (M/g × K)(K × OH·OW),  K = C/g·kH·kW
//   input grad   dx[n, g] = col2im(w_gᵀ · dy[n, g])
//   weight grad  dw_g    += dy[n, g] · colᵀ
//   bias grad    db[m]    = Σ_n Σ_pixels dy[n, m]
// The forward pass and the weight gradient run on Conv2dDirect.cs (channel rows × output positions read
// straight from a padded copy of the image; no im2col matrix). The input gradient of a stride-1 convolution
// is itself a forward convolution — of dy with the kernel flipped and its in/out channels swapped, padded by
// dilation·(k − 1) − pad (the "transposed convolution" identity, Dumoulin & Visin 2016, "A guide to
// convolution arithmetic", §4) — so it runs on the same kernel; strided ones keep im2col + GEMM + col2im. Results are
// bit-identical for any thread count (see Conv2dDirect.cs). Conv2dReference.cs is the specification.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>2-D convolution over NCHW float32 tensors: direct tile kernels, and im2col with <see cref="Gemm"/> for strided input gradients.</summary>
public static unsafe class Conv2dKernel
{
    /// <summary>Below this many flops one thread beats waking another (the GEMM driver's threshold).</summary>
    internal const long ParallelFlops = 10_000_000;

    /// <summary>Images per weight-gradient partial: fixed, so the summation order does not depend on the thread count.</summary>
    internal const int WeightChunk = 8;

    /// <summary>Whether AVX2 forward passes run channels-in-lanes tiles (ConvKernel.Avx2Channels.cs) where they fit; off: pixel tiles.</summary>
    internal static bool Avx2ChannelTiles { get; set; } = true;

    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static float[]? t_partials, t_flipped;

    /// <summary>
    /// y = conv(x, w) + b: x (N, C, H, W), w (M, C/g, kH, kW), b (M) or empty for none, y (N, M, OH, OW),
    /// all tight row-major. y is overwritten.
    /// </summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y) =>
        Forward(g, x, weight, bias, y, default, relu: false);

    /// <summary>
    /// y = conv(x, w) + b, then y += residual when <paramref name="residual"/> is not empty (same shape as y), then
    /// y = max(0, y) when <paramref name="relu"/>, then y = min(y, <paramref name="max"/>): the fused Conv → Add → Relu (or
    /// Clip(0, max), ReLU6) of an inference graph, with the bits of the separate steps.
    /// </summary>
    /// <remarks>With <paramref name="prepacked"/> (inference: the weight unchanged since it was packed there), the weight's
    /// packed form is made once and reused by later calls, and a 3×3 stride-1 convolution may run as a Winograd convolution
    /// (<see cref="Conv2dWinograd"/>). When <paramref name="prepacked"/> has a <see cref="Conv2dPackedWeights.Source"/>,
    /// <paramref name="weight"/> may be empty: the source gives it when a packed form has to be made.</remarks>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        ReadOnlySpan<float> residual, bool relu, Conv2dPackedWeights? prepacked = null, float max = float.PositiveInfinity)
    {
        if (float.IsNaN(max)) throw new ArgumentException("the upper bound of a fused Clip must be a number", nameof(max));
        Check(g, x.Length, "input", (long)g.Batch * g.InChannels * g.InPixels);
        bool sourced = weight.IsEmpty && prepacked?.Source is not null;
        if (!sourced) Check(g, weight.Length, "weight", (long)g.OutChannels * g.ColumnRows);
        if (!bias.IsEmpty) Check(g, bias.Length, "bias", g.OutChannels);
        Check(g, y.Length, "output", (long)g.Batch * g.OutChannels * g.OutPixels);
        if (!residual.IsEmpty) Check(g, residual.Length, "residual", y.Length);
        // The depthwise kernel and a GEMM per image read the weight as it lies, the 1×1 strips as panels: a packed object keeps
        // that form (the one a sourced weight needs).
        bool depthwise = Conv2dDepthwise.Applies(g), panels = false;
        if (prepacked is not null && (Conv2dGemm.Applies(g) || depthwise)) weight = Conv2dGemm.Kept(Cpu.Active, g, weight, prepacked, out panels);
        fixed (float* px = x, pw = weight, pb = bias, py = y, pr = residual)
        {
            float* b = bias.IsEmpty ? null : pb, r = residual.IsEmpty ? null : pr, w = sourced ? null : pw;
            var clamp = new VectorClamp(relu ? 0f : float.NegativeInfinity, max);
            if (Conv2dGemm.Applies(g)) { Conv2dGemm.Forward(Cpu.Active, g, px, pw, b, py, r, clamp, panels); return; }
            if (depthwise) { Conv2dDepthwise.Forward(g, px, pw, b, py, r, clamp); return; }
            if (Conv2dPointwiseStrided.Applies(g)) Conv2dPointwiseStrided.Forward(g, x, weight, bias, y, residual, relu, prepacked);
            else if (!Conv2dWinograd.TryForward(Cpu.Active, g, px, w, b, py, r, relu, prepacked))
                DirectForward(Cpu.Active, g, px, w, b, py, accumulate: false, r, relu, prepacked);
        }
        // The other kernels' epilogues end at the Relu: the upper bound is a pass over the output they have written.
        if (max < float.PositiveInfinity) System.Numerics.Tensors.TensorPrimitives.Min(y, max, y);
    }

    /// <summary>
    /// True when the fused Forward may be given the residual's own array as its output (x elsewhere): every kernel then reads each residual value just
    /// before it writes the output at the same place, from sums kept in its own buffers. Not the GEMM of a 1×1 layer, which
    /// writes partial sums into its output between K blocks.
    /// </summary>
    internal static bool OutputMayOverwriteResidual(Conv2dGeometry g) => !Conv2dGemm.Applies(g) || Conv2dGemm.UsesStrips(Cpu.Active, g);

    /// <summary>
    /// True when the fused Forward may be given its input's own array as its output: a depthwise layer of one output channel per
    /// input channel whose output has the input's shape, whose work units (a plane, or eight channels of an image) copy their
    /// input channels into their own buffers before they write the same channels' outputs, and read no other channel.
    /// </summary>
    internal static bool OutputMayOverwriteInput(Conv2dGeometry g) =>
        Conv2dDepthwise.Applies(g) && g.OutPerGroup == 1 && g.OutHeight == g.Height && g.OutWidth == g.Width;

    /// <summary>
    /// The input gradient dx = ∂L/∂x from dy = ∂L/∂y: dx (N, C, H, W) is overwritten, or added to when
    /// <paramref name="accumulate"/>.
    /// </summary>
    public static void BackwardInput(Conv2dGeometry g, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        Check(g, weight.Length, "weight", (long)g.OutChannels * g.ColumnRows);
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        Check(g, dx.Length, "input gradient", (long)g.Batch * g.InChannels * g.InPixels);
        if (TransposedGeometry(g) is { } t)
        {
            // dx = conv(dy, flip(w)) with t's padding; the flipped weight is (C, M/g, kH, kW).
            var flipped = Scratch(ref t_flipped, weight.Length);
            FlipWeight(g, weight, flipped);
            fixed (float* pw = flipped, pdy = dy, pdx = dx)
                DirectForward(Cpu.Active, t, pdy, pw, null, pdx, accumulate);
            return;
        }
        fixed (float* pw = weight, pdy = dy, pdx = dx)
            Run(g, pw, pdy, pdx, accumulate ? 1f : 0f);
    }

    /// <summary>
    /// The weight gradient dw = ∂L/∂w from x and dy: dw (M, C/g, kH, kW) is overwritten, or added to when
    /// <paramref name="accumulate"/>.
    /// </summary>
    public static void BackwardWeight(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dWeight, bool accumulate)
    {
        Check(g, x.Length, "input", (long)g.Batch * g.InChannels * g.InPixels);
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        int size = g.OutChannels * g.ColumnRows;
        Check(g, dWeight.Length, "weight gradient", size);
        int chunks = (g.Batch + WeightChunk - 1) / WeightChunk;
        if (chunks == 0) { if (!accumulate) dWeight.Clear(); return; }
        // Chunk 0 writes straight into dw (it applies accumulate's beta); the others into partials added after.
        var partials = Scratch(ref t_partials, (chunks - 1) * size);
        fixed (float* px = x, pdy = dy, pdw = dWeight, pp = partials)
        {
            DirectWeightGrad(Cpu.Active, g, px, pdy, pdw, pp, accumulate);
            var total = new Span<float>(pdw, size);
            for (int c = 1; c < chunks; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(total, new ReadOnlySpan<float>(pp + (long)(c - 1) * size, size), total);
        }
    }

    /// <summary>The bias gradient db[m] = Σ_n Σ_pixels dy[n, m]: db (M) is overwritten, or added to when <paramref name="accumulate"/>.</summary>
    public static void BackwardBias(Conv2dGeometry g, ReadOnlySpan<float> dy, Span<float> dBias, bool accumulate)
    {
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        Check(g, dBias.Length, "bias gradient", g.OutChannels);
        if (!accumulate) dBias.Clear();
        int pixels = g.OutPixels;
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                dBias[m] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Slice((n * g.OutChannels + m) * pixels, pixels));
    }

    private static void Check(Conv2dGeometry g, int length, string what, long expected)
    {
        if (length != expected)
            throw new ArgumentException(
                $"Conv2d {what} holds {length} floats; {string.Join('×', g.InputShape)} input, {string.Join('×', g.WeightShape)} weight needs {expected}");
    }

    private static void DirectForward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* b, float* y, bool accumulate,
        float* residual = null, bool relu = false, Conv2dPackedWeights? prepacked = null)
    {
        int threads = Cpu.Threads;
        switch (path)
        {
            case KernelPath.Avx512 when NarrowTilesFit(g):
                Conv2dDirect<ConvKernelAvx512Narrow>.Forward(g, x, w, b, y, accumulate, threads, residual, relu, prepacked);
                break;
            case KernelPath.Avx512: Conv2dDirect<ConvKernelAvx512>.Forward(g, x, w, b, y, accumulate, threads, residual, relu, prepacked); break;
            case KernelPath.Avx2: Conv2dDirect<ConvKernelAvx2>.Forward(g, x, w, b, y, accumulate, threads, residual, relu, prepacked); break;
            default: Conv2dDirect<ConvKernelScalar>.Forward(g, x, w, b, y, accumulate, threads, residual, relu, prepacked); break;
        }
    }

    /// <summary>
    /// True when 32-wide tiles cover the padded output positions (OH · ⌈(W + pads)/sW⌉, Conv2dDirect.cs) with
    /// fewer wasted lanes than 48-wide ones.
    /// </summary>
    private static bool NarrowTilesFit(Conv2dGeometry g)
    {
        var o = g.Options;
        int positions = g.OutHeight * ((g.Width + o.PadLeft + o.PadRight + o.StrideW - 1) / o.StrideW);
        return (positions + 31) / 32 * 32 < (positions + 47) / 48 * 48;
    }

    private static void DirectWeightGrad(KernelPath path, Conv2dGeometry g, float* x, float* dy, float* dw, float* partials, bool accumulate)
    {
        switch (path)
        {
            case KernelPath.Avx512: Conv2dDirect<ConvKernelAvx512>.WeightGrad(g, x, dy, dw, partials, accumulate, Cpu.Threads); break;
            case KernelPath.Avx2: Conv2dDirect<ConvKernelAvx2>.WeightGrad(g, x, dy, dw, partials, accumulate, Cpu.Threads); break;
            default: Conv2dDirect<ConvKernelScalar>.WeightGrad(g, x, dy, dw, partials, accumulate, Cpu.Threads); break;
        }
    }


    /// <summary>
    /// For a stride-1 convolution, the forward problem whose output is dx: input dy (N, M, OH, OW), output
    /// channels C, padding dilation·(k − 1) − pad per side; null when a pad exceeds dilation·(k − 1) or the
    /// convolution is strided.
    /// </summary>
    internal static Conv2dGeometry? TransposedGeometry(Conv2dGeometry g)
    {
        var o = g.Options;
        if (o.StrideH != 1 || o.StrideW != 1) return null;
        int spanH = o.DilationH * (g.KernelH - 1), spanW = o.DilationW * (g.KernelW - 1);
        int top = spanH - o.PadTop, bottom = spanH - o.PadBottom, left = spanW - o.PadLeft, right = spanW - o.PadRight;
        if (top < 0 || bottom < 0 || left < 0 || right < 0) return null;
        var t = new Conv2dGeometry(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, g.KernelH, g.KernelW,
            new ConvParameters(1, 1, top, left, bottom, right, o.DilationH, o.DilationW, o.Groups));
        // OH + top + bottom − span = H + pads − span + 2·span − pads − span = H.
        return t.OutHeight == g.Height && t.OutWidth == g.Width ? t : null;
    }

    /// <summary>flipped[group·C/g + c, m, kh, kw] = w[group·M/g + m, c, kH − 1 − kh, kW − 1 − kw].</summary>
    private static void FlipWeight(Conv2dGeometry g, ReadOnlySpan<float> w, Span<float> flipped)
    {
        int cg = g.InPerGroup, mg = g.OutPerGroup, area = g.KernelH * g.KernelW;
        for (int group = 0; group < g.Groups; group++)
            for (int m = 0; m < mg; m++)
                for (int c = 0; c < cg; c++)
                {
                    var src = w.Slice(((group * mg + m) * cg + c) * area, area);
                    var dst = flipped.Slice(((group * cg + c) * mg + m) * area, area);
                    for (int i = 0; i < area; i++) dst[i] = src[area - 1 - i];
                }
    }

    // The strided input gradient: images split over the threads (or, with fewer images than threads, the GEMM
    // is threaded), each image's dx = col2im(w_gᵀ · dy).
    private static void Run(Conv2dGeometry g, float* w, float* dy, float* dx, float beta)
    {
        int units = g.Batch;
        if (units == 0) return;
        int parts = g.Flops >= ParallelFlops ? Math.Min(Cpu.Threads, units) : 1;
        var job = t_job ??= new Job();
        job.Set(g, Cpu.Active, units, parts, w, dy, dx, beta);
        try
        {
            if (parts == 1) job.Execute(0); // the GEMMs may then use the threads themselves
            else WorkerPool.Run(job, parts);
        }
        finally { job.Clear(); }
    }

    /// <summary>A buffer of at least <paramref name="count"/> floats kept for this thread's next call.</summary>
    private static Span<float> Scratch(ref float[]? buffer, long count)
    {
        if (buffer is null || buffer.Length < count) buffer = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
        return buffer.AsSpan(0, (int)count);
    }

    /// <summary>One strided input-gradient call; part p takes a contiguous run of images.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static float[]? t_column;

        private Conv2dGeometry _g = null!;
        private KernelPath _path;
        private int _units, _parts;
        private float _beta;
        private float* _w, _dy, _dx;

        public void Set(Conv2dGeometry g, KernelPath path, int units, int parts, float* w, float* dy, float* dx, float beta)
        {
            (_g, _path, _units, _parts, _beta) = (g, path, units, parts, beta);
            _w = w; _dy = dy; _dx = dx;
        }

        public void Clear() { _w = _dy = _dx = null; _g = null!; }

        public void Execute(int part)
        {
            int u0 = (int)((long)_units * part / _parts), u1 = (int)((long)_units * (part + 1) / _parts);
            var g = _g;
            float* col = ColumnBuffer((long)g.ColumnRows * g.OutPixels);
            for (int n = u0; n < u1; n++) InputGradImage(g, n, col);
        }

        private static float* ColumnBuffer(long count)
        {
            if (t_column is null || t_column.Length < count)
                t_column = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
            return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_column));
        }

        private void InputGradImage(Conv2dGeometry g, int n, float* col)
        {
            int mg = g.OutPerGroup, k = g.ColumnRows, pixels = g.OutPixels;
            for (int group = 0; group < g.Groups; group++)
            {
                float* dImage = _dx + ((long)n * g.InChannels + group * g.InPerGroup) * g.InPixels;
                float* dOutput = _dy + ((long)n * g.OutChannels + group * mg) * pixels;
                float* wg = _w + (long)group * mg * k;
                Gemm.Run(_path, true, false, k, pixels, mg, 1f, wg, k, dOutput, pixels, 0f, col, pixels);
                if (_beta == 0f) new Span<float>(dImage, g.InPerGroup * g.InPixels).Clear();
                Im2Col.AddBack(g, col, dImage);
            }
        }
    }
}
