// A 1×1 unpadded convolution as one matrix product per image: y[n] (M × OH·OW) = w (M × C) · col[n] (C × OH·OW), where col
// is the image itself at stride 1 (both in NCHW as they lie) and its picked pixels (oy·sH, ox·sW) otherwise (Im2Col.Fill,
// into a per-thread buffer, so they are still in cache for the product; ResNet's projection shortcut, He et al. 2016) — as
// MLAS runs pointwise convolutions. The direct kernel's padded-image copy and tile write-out cost more than such a
// product: resnet-mini's shortcuts, 16 → 32 and 32 → 64 channels at batch 256, 1.12 and 0.87 ms direct, 0.64 and 0.61 ms
// here. Tried and not kept: im2col + GEMM for the strided 3×3 and few-channel convolutions too (`bench conv`, batch 256:
// resnet-mini's 16 → 32 stride 2 3.42 → 4.68 ms, LeNet-5's first layer 0.50 → 1.51 ms; ResNet-18's strided 3×3 at batch 1
// 0.56–0.59 → 0.75–0.84 ms). The bias, residual, ReLU and a Clip's upper bound are the GEMM's epilogue (GemmEpilogue's
// convolution form), applied to each tile while it is in L1, with the bits of filling the output with the bias first (the
// direct kernel's order) and the separate ops after: MobileNetV2's 16 → 96 expansion at 112×112 wrote its 4.8 MB output
// three times and read it twice. Images are split between the threads when each is too small for the GEMM to split.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Forward pass of an ungrouped 1×1 unpadded convolution as one GEMM per image.</summary>
internal static unsafe partial class Conv2dGemm
{
    [ThreadStatic] private static float[]? t_col;

    /// <summary>True for an ungrouped 1×1 kernel with no padding (any stride).</summary>
    public static bool Applies(Conv2dGeometry g)
    {
        var o = g.Options;
        return g.Groups == 1 && g.KernelH == 1 && g.KernelW == 1 && o.PadTop == 0 && o.PadLeft == 0 && o.PadBottom == 0 && o.PadRight == 0;
    }

    // At stride 1 the image is the product's matrix.
    private static bool ReadsImage(Conv2dGeometry g) => g.Options.StrideH == 1 && g.Options.StrideW == 1;

    /// <summary>
    /// The weight as <paramref name="prepacked"/> keeps it for this geometry, made (from <paramref name="weight"/> or the source)
    /// on first use: the strips' panels (<paramref name="panels"/> true) where <paramref name="path"/> runs strips, else a copy.
    /// </summary>
    public static ReadOnlySpan<float> Kept(KernelPath path, Conv2dGeometry g, ReadOnlySpan<float> weight, Conv2dPackedWeights prepacked,
        out bool panels)
    {
        int size = g.OutChannels * g.ColumnRows;
        panels = Applies(g) && UsesStrips(path, g);
        var form = panels ? typeof(PointwiseStripKernel) : typeof(Conv2dGemm);
        if (prepacked.Find(form, 0, g) is not { } kept)
        {
            var plain = weight.IsEmpty ? prepacked.SourcedWeight(size).AsSpan(0, size) : weight[..size];
            if (panels)
            {
                kept = new float[PointwiseStripKernel.PackedLength(g.OutChannels, g.ColumnRows)];
                PointwiseStripKernel.Pack(plain, g.OutChannels, g.ColumnRows, kept);
            }
            else kept = plain.ToArray();
            prepacked.Keep(form, 0, g, kept);
        }
        return kept;
    }

    /// <summary>
    /// y (N, M, H, W) = clamp(conv(x, w) + b (+ residual)) for a geometry where <see cref="Applies"/> holds; x, w, y tight NCHW /
    /// (M, C, 1, 1), w the strips' panels when <paramref name="panels"/> (<see cref="Kept"/>); b and residual may be null.
    /// </summary>
    public static void Forward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* b, float* y, float* residual, VectorClamp clamp,
        bool panels)
    {
        if (UsesStrips(path, g))
        {
            ForwardStrips(g, x, w, panels, b, y, residual, clamp);
            return;
        }
        int m = g.OutChannels, k = g.ColumnRows, pixels = g.OutPixels;
        long perImage = 2L * m * k * pixels;
        nint px = (nint)x, pw = (nint)w, pb = (nint)b, py = (nint)y, pr = (nint)residual;
        void Images(int first, int last)
        {
            float* col = ReadsImage(g) ? null : Buffer((long)k * pixels);
            for (int n = first; n < last; n++)
            {
                float* image = (float*)px + (long)n * g.InChannels * g.InPixels, output = (float*)py + (long)n * m * pixels;
                if (col is not null)
                {
                    Im2Col.Fill(g, image, col);
                    image = col;
                }
                float* rest = pr == 0 ? null : (float*)pr + (long)n * m * pixels;
                var epilogue = GemmEpilogue.Convolution((float*)pb, rest, clamp);
                Gemm.Run(path, false, false, m, pixels, k, 1f, (float*)pw, k, image, pixels, 0f, output, pixels, epilogue);
            }
        }
        // An image worth splitting is left to the GEMM, which splits it; smaller ones go to the threads whole.
        if (perImage >= Conv2dKernel.ParallelFlops || g.Batch == 1) Images(0, g.Batch);
        else ParallelRanges.For(g.Batch, perImage * g.Batch, Conv2dKernel.ParallelFlops, Images);
    }

    // This thread's buffer of picked pixels, pinned, of at least count floats.
    private static float* Buffer(long count)
    {
        if (t_col is null || t_col.Length < count) t_col = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_col));
    }
}
