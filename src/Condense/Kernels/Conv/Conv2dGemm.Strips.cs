// The AVX2 form of a stride-1 1×1 convolution: strip by strip instead of one GEMM per image. For each 16 pixels of an image
// the K input channels' values are copied into a contiguous K × 16 strip (in L1 for the whole strip), then every group of
// six output channels is one PointwiseStripKernel tile over it, its bias, residual and clamp applied before the one store.
// Against the GEMM (B packed per 1024 columns, A in place, the tile stored and then read back by the epilogue) it saves
// the epilogue's second pass and the packing calls. One thread, best of 3, ms, GEMM → strips (a timer of MobileNetV2's
// shapes, AMD EPYC AVX2; `bench conv mnv2 --forward` times them against ORT): 32 → 16 at 112² 0.67 → 0.52, 16 → 96 at
// 112² 1.96 → 1.33, 96 → 24 at 56² 0.56 → 0.45, 24 → 144 at 56² 1.01 → 0.71, 144 → 32 at 28² 0.26 → 0.23, 64 → 384 at
// 14² 0.34 → 0.31, 960 → 160 at 7² 0.54 → 0.52; power-of-two images too (64 → 64 at 32² 0.28 → 0.26, 256 → 64 at 32²
// 1.08 → 0.99): the strip copy is what keeps them fast, since reading the image in place (rows 4 KiB apart, one L1 set)
// ran 0.61× the GEMM there. Each output is the same chain of multiply-adds over the whole K whatever the thread count; a
// K deeper than one GEMM K block (432) rounds differently from the GEMM (one chain instead of a sum per block), which the
// fused and separate ops share. Tried and not kept: cutting one image between the threads by output channels, so that
// a depthwise layer after it (cut by channels) reads what the same core wrote: its depthwise layers got faster in the
// network (14×14: 135–140 → 98 µs) but the whole network slower (17.6–17.8 → 17.9–19.0 ms, alternating runs), the strips
// copied once per block and the next 1×1 layer reading half its input from the other core instead.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

internal static unsafe partial class Conv2dGemm
{
    /// <summary>Below this many flops one thread runs the strips (the GEMM driver's threshold).</summary>
    private const long StripParallelFlops = 3_000_000;

    /// <summary>Fewer pixels than this go to the GEMM: a strip of 16 would be mostly padding.</summary>
    private const int StripMinPixels = 2 * PointwiseStripKernel.Width;

    [ThreadStatic] private static StripJob? t_stripJob;
    [ThreadStatic] private static bool t_gemmOnly;
    [ThreadStatic] private static float[]? t_panels;

    /// <summary>
    /// Whether stride-1 1×1 convolutions called from this thread run as strips where they can (tests turn it off to compare
    /// with the GEMM; per thread, so that tests running at the same time keep their path).
    /// </summary>
    internal static bool Strips { get => !t_gemmOnly; set => t_gemmOnly = !value; }

    /// <summary>True when <paramref name="path"/> runs this 1×1 convolution strip by strip.</summary>
    internal static bool UsesStrips(KernelPath path, Conv2dGeometry g) =>
        Strips && path == KernelPath.Avx2 && ReadsImage(g) && g.OutPixels >= StripMinPixels && Vector256.IsHardwareAccelerated;

    // w is the weight as it lies, or its panels when packedPanels is set (Kept made them once per model).
    private static void ForwardStrips(Conv2dGeometry g, float* x, float* w, bool packedPanels, float* b, float* y, float* residual, VectorClamp clamp)
    {
        if (!packedPanels)
        {
            long length = PointwiseStripKernel.PackedLength(g.OutChannels, g.ColumnRows);
            float* packed = AlignedBuffer.Of(ref t_panels, length);
            PointwiseStripKernel.Pack(new ReadOnlySpan<float>(w, g.OutChannels * g.ColumnRows), g.OutChannels, g.ColumnRows,
                new Span<float>(packed, checked((int)length)));
            w = packed;
        }
        long flops = 2L * g.Batch * g.OutChannels * g.ColumnRows * g.OutPixels;
        var schedule = new StripSchedule(g.Batch, g.OutPixels, g.OutChannels, PointwiseStripKernel.Width, PointwiseStripKernel.MaxRows,
            flops >= StripParallelFlops);
        var job = t_stripJob ??= new StripJob();
        job.Set(g, x, w, b, y, residual, clamp, schedule);
        try { WorkerPool.Run(job, schedule.Parts); }
        finally { job.Clear(); }
    }

    /// <summary>One call: each part takes a contiguous range of (image, strip, channel block) units.</summary>
    private sealed class StripJob : IParallelJob
    {
        [ThreadStatic] private static float[]? t_strip;

        private Conv2dGeometry _g = null!;
        private float* _x, _w, _b, _y, _residual;
        private VectorClamp _clamp;
        private StripSchedule _schedule;

        public void Set(Conv2dGeometry g, float* x, float* w, float* b, float* y, float* residual, VectorClamp clamp, StripSchedule schedule)
        {
            (_g, _clamp, _schedule) = (g, clamp, schedule);
            _x = x; _w = w; _b = b; _y = y; _residual = residual;
        }

        public void Clear() { _x = _w = _b = _y = _residual = null; _g = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var g = _g;
            int k = g.ColumnRows, pixels = g.OutPixels, m = g.OutChannels, width = PointwiseStripKernel.Width;
            float* strip = AlignedBuffer.Of(ref t_strip, (long)k * width);
            float* tile = stackalloc float[PointwiseStripKernel.MaxRows * PointwiseStripKernel.Width];
            var (first, end) = _schedule.Range(part);
            for (long unit = first; unit < end; unit++)
            {
                var (n, j, cols, i0, i1) = _schedule.At(unit);
                CopyStrip(_x + (long)n * k * pixels + j, pixels, k, cols, strip);
                float* image = _y + (long)n * m * pixels, rest = _residual is null ? null : _residual + (long)n * m * pixels;
                for (int i = i0; i < i1; i += PointwiseStripKernel.MaxRows)
                {
                    int rows = Math.Min(PointwiseStripKernel.MaxRows, i1 - i);
                    long at = (long)i * pixels + j;
                    float* bias = _b is null ? null : _b + i;
                    if (cols == width)
                    {
                        PointwiseStripKernel.Run(rows, k, _w + (long)i * k, strip, image + at, pixels, bias, rest is null ? null : rest + at, _clamp);
                        continue;
                    }
                    // A ragged last strip: the sums into a tile, finished in the same order on the pixels there are.
                    PointwiseStripKernel.Run(rows, k, _w + (long)i * k, strip, tile, width, null, null, default);
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++)
                        {
                            float v = tile[r * width + c];
                            if (bias != null) v += bias[r];
                            if (rest != null) v += rest[at + (long)r * pixels + c];
                            image[at + (long)r * pixels + c] = _clamp.Apply(v);
                        }
                }
            }
        }

        // strip[p·16 + c] = x[p·pixels + c] for c < cols, zero for the rest of the 16.
        private static void CopyStrip(float* x, int pixels, int k, int cols, float* strip)
        {
            if (cols == PointwiseStripKernel.Width)
            {
                for (int p = 0; p < k; p++, x += pixels, strip += PointwiseStripKernel.Width)
                {
                    Vector256.Store(Vector256.Load(x), strip);
                    Vector256.Store(Vector256.Load(x + 8), strip + 8);
                }
                return;
            }
            for (int p = 0; p < k; p++, x += pixels, strip += PointwiseStripKernel.Width)
            {
                new Span<float>(x, cols).CopyTo(new Span<float>(strip, cols));
                new Span<float>(strip + cols, PointwiseStripKernel.Width - cols).Clear();
            }
        }
    }
}
