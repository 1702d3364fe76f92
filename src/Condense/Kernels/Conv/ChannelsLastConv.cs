// Convolutions over channels-last images, (N, H, W, C) with the channels of a pixel side by side, as ONNX Runtime keeps a
// MobileNet between its layers (NCHWc: blocks of 16 channels) and as TFLite does (NHWC). An inference graph made mostly of
// 1×1 and depthwise convolutions runs them in this layout (Graph/GraphModule.ChannelsLast.cs): a 1×1 convolution is then
// one product over all the batch's pixels, y (N·OH·OW × M) = x (N·OH·OW × C) · wᵀ, with the weight packed once and x read in
// place, where channels-first needs a product per image whose columns are the pixels — 49 or 196 of them at MobileNetV2's
// 7×7 and 14×14 stages, so ragged tiles and the weight streamed once per image (960 → 320 at 7×7, batch 8: 0.87 ms per image
// product, 0.52 ms as one product over the pixels; measured). Depthwise convolutions: DepthwiseChannelsLast.cs.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Layout changes, 1×1 convolutions and global average pooling over channels-last images.</summary>
internal static unsafe class ChannelsLastConv
{
    // Below this many floats moved, one thread transposes (the hand-off costs more).
    private const long ParallelFloats = 1 << 16;

    [ThreadStatic] private static float[]? t_picked;

    /// <summary>y (N, P, C) = x (N, C, P): channels-first images to channels-last, P pixels each.</summary>
    public static void ToChannelsLast(float* x, float* y, int batch, int channels, int pixels) =>
        Transpose(x, y, batch, channels, pixels);

    /// <summary>y (N, C, P) = x (N, P, C): channels-last images back to channels-first.</summary>
    public static void ToChannelsFirst(float* x, float* y, int batch, int channels, int pixels) =>
        Transpose(x, y, batch, pixels, channels);

    // Each image's rows × cols matrix transposed, in 8 × 8 blocks (GemmPack.Transpose8x8) where the vector unit has them.
    private static void Transpose(float* x, float* y, int batch, int rows, int cols)
    {
        nint px = (nint)x, py = (nint)y;
        int bands = (rows + 7) / 8;
        bool blocks = Vector256.IsHardwareAccelerated && Cpu.Active != KernelPath.Scalar;
        ParallelRanges.For(batch * bands, (long)batch * rows * cols, ParallelFloats, (first, last) =>
        {
            for (int item = first; item < last; item++)
            {
                int n = item / bands, r0 = item % bands * 8, r1 = Math.Min(rows, r0 + 8);
                float* from = (float*)px + (long)n * rows * cols, to = (float*)py + (long)n * rows * cols;
                int c = 0;
                if (blocks && r1 - r0 == 8)
                    for (; c + 8 <= cols; c += 8) GemmPack.Transpose8x8(from + (long)r0 * cols + c, cols, to + (long)c * rows + r0, rows);
                for (int r = r0; r < r1; r++)
                    for (int j = c; j < cols; j++) to[(long)j * rows + r] = from[(long)r * cols + j];
            }
        });
    }

    /// <summary>The weight (M, C, 1, 1) of a 1×1 convolution as the product's B = wᵀ (C × M), packed for <paramref name="path"/>.</summary>
    public static GemmPackedB PackPointwise(KernelPath path, ReadOnlySpan<float> weight, int outChannels, int inChannels) =>
        GemmPackedB.Pack(path, transB: true, inChannels, outChannels, weight, inChannels);

    /// <summary>
    /// y (N, OH, OW, M) = clamp(x (N, H, W, C) · wᵀ + b (+ residual, same layout as y)) for a 1×1 unpadded convolution
    /// (<see cref="Conv2dGemm.Applies"/>), any stride: a strided one first picks its pixels into a buffer of rows.
    /// </summary>
    public static void Pointwise(KernelPath path, Conv2dGeometry g, float* x, GemmPackedB w, float* bias, float* y, float* residual,
        VectorClamp clamp)
    {
        int rows = g.Batch * g.OutPixels, channels = g.InChannels;
        float* a = x;
        if (g.Options.StrideH != 1 || g.Options.StrideW != 1)
        {
            a = Picked((long)rows * channels);
            int sH = g.Options.StrideH, sW = g.Options.StrideW;
            for (int n = 0, row = 0; n < g.Batch; n++)
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++, row++)
                        Unsafe.CopyBlockUnaligned(a + (long)row * channels, x + (((long)n * g.Height + oy * sH) * g.Width + ox * sW) * channels,
                            (uint)(channels * sizeof(float)));
        }
        Gemm.Run(path, rows, a, channels, w, y, g.OutChannels, GemmEpilogue.ChannelsLast(bias, residual, clamp));
    }

    /// <summary>y (N, C) = the mean over the P pixels of each channel of x (N, P, C): a channels-last GlobalAveragePool.</summary>
    public static void GlobalAveragePool(float* x, float* y, int batch, int pixels, int channels)
    {
        for (int n = 0; n < batch; n++)
        {
            float* image = x + (long)n * pixels * channels, sums = y + (long)n * channels;
            new Span<float>(sums, channels).Clear();
            for (int p = 0; p < pixels; p++)
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(sums, channels),
                    new ReadOnlySpan<float>(image + (long)p * channels, channels), new Span<float>(sums, channels));
            System.Numerics.Tensors.TensorPrimitives.Divide(new ReadOnlySpan<float>(sums, channels), pixels, new Span<float>(sums, channels));
        }
    }

    // This thread's buffer of picked pixels, pinned, of at least count floats.
    private static float* Picked(long count)
    {
        if (t_picked is null || t_picked.Length < count) t_picked = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_picked));
    }
}
