// A 1×1 convolution with no padding is a matrix product per image: y[n] (M × OH·OW) = w (M × C) · x[n] (C × OH·OW), both
// in NCHW as they lie, so it runs on the SGEMM (as MLAS runs pointwise convolutions) rather than on the direct kernel's
// tiles, whose padded-image copy and tile write-out dominate at a few taps (resnet-mini's projection shortcuts, 16 → 32 and
// 32 → 64 channels at batch 256: 1.49 and 1.12 ms direct, 0.76 and 0.55 ms by GEMM). With a stride, each image's pixels
// (oy·sH, ox·sW) are first picked into a per-thread buffer (ResNet's projection shortcut, He et al. 2016, option B), so the
// picking runs on every thread and its output is still in cache for the product. The output is filled with the bias and
// the product added to it (the direct kernel's order: bias first), then the residual and ReLU are applied while the image's
// output is in cache. Images are split between the threads when each is too small for the GEMM to split.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Forward pass of a 1×1, stride-1, unpadded, ungrouped convolution as one GEMM per image.</summary>
internal static unsafe class Conv2dPointwise
{
    [ThreadStatic] private static float[]? t_picked;

    /// <summary>True for a 1×1 kernel with no padding and one group (any stride).</summary>
    public static bool Applies(Conv2dGeometry g)
    {
        var o = g.Options;
        return g.KernelH == 1 && g.KernelW == 1 && g.Groups == 1 && o.PadTop == 0 && o.PadLeft == 0 && o.PadBottom == 0 && o.PadRight == 0;
    }

    /// <summary>The weight as <paramref name="prepacked"/> keeps it for this geometry: copied (or made by its source) on first use.</summary>
    public static ReadOnlySpan<float> Kept(Conv2dGeometry g, ReadOnlySpan<float> weight, Conv2dPackedWeights prepacked)
    {
        int size = g.OutChannels * g.ColumnRows;
        if (prepacked.Find(typeof(Conv2dPointwise), 0, g) is not { } kept)
        {
            kept = weight.IsEmpty ? prepacked.SourcedWeight(size)[..size] : weight[..size].ToArray();
            prepacked.Keep(typeof(Conv2dPointwise), 0, g, kept);
        }
        return kept;
    }

    /// <summary>
    /// y (N, M, H, W) = conv(x, w) + b (+ residual, then max(0, ·)) for a geometry where <see cref="Applies"/> holds; x, w, y
    /// tight NCHW / (M, C, 1, 1); b and residual may be null.
    /// </summary>
    public static void Forward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* b, float* y, float* residual, bool relu)
    {
        int m = g.OutChannels, c = g.InChannels, pixels = g.OutPixels;
        long perImage = 2L * m * c * pixels;
        nint px = (nint)x, pw = (nint)w, pb = (nint)b, py = (nint)y, pr = (nint)residual;
        void Images(int first, int last)
        {
            bool strided = g.Options.StrideH > 1 || g.Options.StrideW > 1;
            float* picked = strided ? Buffer(c * pixels) : null;
            for (int n = first; n < last; n++)
            {
                float* image = (float*)px + (long)n * c * g.InPixels, output = (float*)py + (long)n * m * pixels;
                if (picked is not null)
                {
                    Pick(g, image, picked);
                    image = picked;
                }
                float* bias = (float*)pb, rest = pr == 0 ? null : (float*)pr + (long)n * m * pixels;
                if (bias is not null)
                    for (int o = 0; o < m; o++) new Span<float>(output + (long)o * pixels, pixels).Fill(bias[o]);
                Gemm.Run(path, false, false, m, pixels, c, 1f, (float*)pw, c, image, pixels, bias is null ? 0f : 1f, output, pixels);
                if (rest is null && !relu) continue;
                var values = new Span<float>(output, m * pixels);
                if (rest is not null) System.Numerics.Tensors.TensorPrimitives.Add(values, new ReadOnlySpan<float>(rest, m * pixels), values);
                if (relu) System.Numerics.Tensors.TensorPrimitives.Max(values, 0f, values);
            }
        }
        // An image worth splitting is left to the GEMM, which splits it; smaller ones go to the threads whole.
        if (perImage >= Conv2dKernel.ParallelFlops || g.Batch == 1) Images(0, g.Batch);
        else ParallelRanges.For(g.Batch, perImage * g.Batch, Conv2dKernel.ParallelFlops, Images);
    }

    // picked[c, oy, ox] = image[c, oy·sH, ox·sW].
    private static void Pick(Conv2dGeometry g, float* image, float* picked)
    {
        int sh = g.Options.StrideH, sw = g.Options.StrideW, w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            float* plane = image + (long)ch * g.InPixels;
            for (int oy = 0; oy < oh; oy++, picked += ow)
            {
                float* row = plane + (long)oy * sh * w;
                if (sw == 2) StrideTwoSplit.Split(row, Math.Min(w, 2 * ow), picked, null);
                else for (int ox = 0; ox < ow; ox++) picked[ox] = row[ox * sw];
            }
        }
    }

    // This thread's pick buffer, pinned, of at least count floats.
    private static float* Buffer(int count)
    {
        if (t_picked is null || t_picked.Length < count) t_picked = GC.AllocateUninitializedArray<float>(count, pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_picked));
    }
}
