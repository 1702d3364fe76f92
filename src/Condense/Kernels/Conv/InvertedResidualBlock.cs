// MobileNetV2's inverted residual block (Sandler et al. 2018) — a 1×1 expansion (absent in the first block), a depthwise
// convolution, a 1×1 projection —
// run band by band of output rows over channels-last images, so that the expanded activations (six times the block's
// input, 38.5 MB at the 112×112 stage for a batch of 8) never leave the cache: for each band, the expansion of the input
// rows the band's depthwise rows read goes into a per-thread buffer of about BandBytes, the depthwise rows into another,
// and their projection (with the residual and clamp) into the output, as MNN and TVM fuse such blocks. Each kernel is the
// one the unfused channels-last path runs (a product over pixels with the weight packed once, DepthwiseChannelsLast's rows),
// on the same values in the same order, so the output has the unfused path's bits; only the expanded rows a band shares
// with the one above it are computed twice. Bands are shared between the threads, each computed by one.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>A 1×1 expansion, a depthwise convolution and a 1×1 projection as one banded pass over channels-last images.</summary>
internal static unsafe class InvertedResidualBlock
{
    /// <summary>About how many bytes of expanded rows a band holds (about half a core's L2 on the machines measured).</summary>
    private const long BandBytes = 512 * 1024;

    /// <summary>
    /// From this many flops a block's bands are shared between the threads, as a product's tiles are (GemmDriver). It was
    /// Conv2dKernel's 10 Mflop: MNASNet 0.5's blocks (3–7 Mflop) then ran on one thread while their layers run apart went
    /// on two, and the fused model ran at 0.75–0.79 of ONNX Runtime's speed against 0.98–0.99 now (`bench file`, alternating
    /// runs on the 2-core AMD machine; MobileNetV2 unchanged).
    /// </summary>
    private const long ParallelFlops = 3_000_000;

    [ThreadStatic] private static float[]? t_expanded;
    [ThreadStatic] private static float[]? t_depthwise;

    /// <summary>One convolution of the block: its geometry, weight in its kernel's form, bias (or null) and clamp.</summary>
    public readonly struct Layer(Conv2dGeometry geometry, GemmPackedB? product, float[]? lanes, float* bias, VectorClamp clamp)
    {
        public Conv2dGeometry Geometry { get; } = geometry;
        public GemmPackedB? Product { get; } = product;
        public float[]? Lanes { get; } = lanes;
        public float* Bias { get; } = bias;
        public VectorClamp Clamp { get; } = clamp;
    }

    /// <summary>
    /// y (N, OH, OW, M) = project(depthwise(expand(x))) (+ residual, same layout as y): x (N, H, W, C); the expansion and the
    /// projection 1×1 at stride 1 (<see cref="Layer.Product"/>), the depthwise layer's weight as DepthwiseChannelsLast packs it.
    /// Without an expansion (<paramref name="expand"/> null: MobileNetV2's first block) the depthwise layer reads x; with a
    /// stem of few taps in its place (<see cref="Layer.Lanes"/>, DirectChannelsLast's form), x is the channels-first image.
    /// </summary>
    public static void Forward(KernelPath path, Layer? expand, Layer depthwise, Layer project, float* x, float* residual, float* y)
    {
        var d = depthwise.Geometry;
        int bandRows = BandRows(d);
        int bands = (d.OutHeight + bandRows - 1) / bandRows;
        long flops = (expand?.Geometry.Flops ?? 0) + d.Flops + project.Geometry.Flops;
        nint px = (nint)x, pr = (nint)residual, py = (nint)y;
        ParallelRanges.For(d.Batch * bands, flops, ParallelFlops, (first, last) =>
        {
            for (int unit = first; unit < last; unit++)
            {
                int n = unit / bands, o0 = unit % bands * bandRows;
                Band(path, expand, depthwise, project, (float*)px, (float*)pr, (float*)py, n, o0, Math.Min(d.OutHeight, o0 + bandRows));
            }
        });
    }

    // Output rows per band: as many as keep the expanded rows they read within BandBytes, but no more than leave two bands per
    // thread while a band keeps at least four rows (fewer would compute too many shared rows twice).
    private static int BandRows(Conv2dGeometry d)
    {
        long rowBytes = (long)d.Width * d.InChannels * sizeof(float);
        int rows = d.OutHeight;
        while (rows > 1 && InputRows(d, rows) * rowBytes > BandBytes) rows--;
        while (rows > 4 && d.Batch * ((d.OutHeight + rows - 1) / rows) < 2 * Cpu.Threads) rows = Math.Max(4, rows / 2);
        return rows;
    }

    // Input rows the depthwise layer reads for `rows` consecutive output rows (inside the image or not).
    private static int InputRows(Conv2dGeometry d, int rows) => (rows - 1) * d.Options.StrideH + (d.KernelH - 1) * d.Options.DilationH + 1;

    private static void Band(KernelPath path, Layer? expand, Layer depthwise, Layer project, float* x, float* residual, float* y, int n, int o0, int o1)
    {
        var d = depthwise.Geometry;
        var o = d.Options;
        int width = d.Width, channels = d.InChannels, outWidth = d.OutWidth;
        int outChannels = project.Geometry.OutChannels;
        int e0 = Math.Max(0, o0 * o.StrideH - o.PadTop), e1 = Math.Min(d.Height, (o1 - 1) * o.StrideH - o.PadTop + (d.KernelH - 1) * o.DilationH + 1);
        float* rows = Buffer(ref t_depthwise, (long)(o1 - o0) * outWidth * channels);
        // The depthwise layer's input rows e0 .. e1: expanded into this thread's buffer, or x's own.
        float* expanded = x + ((long)n * d.Height + e0) * width * channels;
        if (expand is { } layer && e1 > e0)
        {
            var g = layer.Geometry;
            expanded = Buffer(ref t_expanded, (long)(e1 - e0) * width * channels);
            if (layer.Product is { } product)
                Gemm.Run(path, (e1 - e0) * width, x + ((long)n * d.Height + e0) * width * g.InChannels, g.InChannels, product, expanded, channels,
                    GemmEpilogue.ChannelsLast(layer.Bias, null, layer.Clamp));
            else
                fixed (float* lanes = layer.Lanes)
                    for (int row = e0; row < e1; row++)   // a stem of few taps from the channels-first image x
                        DirectChannelsLast.Row(path, g, x, lanes, layer.Bias, expanded - ((long)n * g.OutHeight + e0) * width * channels, null, layer.Clamp,
                            n * g.OutHeight + row);
        }
        int* kys = stackalloc int[MaxKernelRows];
        float** inputs = stackalloc float*[MaxKernelRows];
        fixed (float* lanes = depthwise.Lanes)
            for (int oy = o0; oy < o1; oy++)
            {
                int valid = 0;
                for (int ky = 0; ky < d.KernelH; ky++)
                {
                    int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
                    if (iy < 0 || iy >= d.Height) continue;
                    kys[valid] = ky;
                    inputs[valid++] = expanded + (long)(iy - e0) * width * channels;
                }
                DepthwiseChannelsLast.RowFrom(path, d, kys, inputs, valid, lanes, depthwise.Bias, rows + (long)(oy - o0) * outWidth * channels, null,
                    depthwise.Clamp);
            }
        long at = ((long)n * d.OutHeight + o0) * outWidth * outChannels;
        Gemm.Run(path, (o1 - o0) * outWidth, rows, channels, project.Product!, y + at, outChannels,
            GemmEpilogue.ChannelsLast(project.Bias, residual == null ? null : residual + at, project.Clamp));
    }

    /// <summary>The tallest depthwise kernel a block takes (its rows are kept on the stack).</summary>
    public const int MaxKernelRows = 16;

    // This thread's buffer, pinned, of at least count floats.
    private static float* Buffer(ref float[]? buffer, long count)
    {
        if (buffer is null || buffer.Length < count) buffer = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(1, count)), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }
}
