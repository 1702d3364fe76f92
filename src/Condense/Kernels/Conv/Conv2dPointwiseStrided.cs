// A 1×1 convolution with stride (sH, sW) and no padding reads only the pixels (oy·sH, ox·sW), so it is the
// stride-1 1×1 convolution of the image subsampled to (N, C, OH, OW) (ResNet's projection shortcut, He et al.
// 2016, "option B"). Picking those pixels is one pass writing 1/(sH·sW) of the image; the direct kernel would
// instead copy the whole image into sH·sW phase planes (Conv2dDirect.cs) of which a 1×1 kernel reads one.
// The sums are the same taps in the same order, so the result is that of the stride-1 kernel on the subsample.
// Conv2dKernel sends only grouped ones here: an ungrouped one runs as a GEMM per image on its picked pixels (Conv2dGemm).
using System.Buffers;

namespace Condense.Kernels.Conv;

/// <summary>Forward pass of an unpadded 1×1 convolution with a stride above 1, via the subsampled image.</summary>
internal static class Conv2dPointwiseStrided
{
    /// <summary>True for a 1×1 kernel, no padding and a stride above 1 along some axis.</summary>
    public static bool Applies(Conv2dGeometry g)
    {
        var o = g.Options;
        return g.KernelH == 1 && g.KernelW == 1 && (o.StrideH > 1 || o.StrideW > 1)
            && o.PadTop == 0 && o.PadLeft == 0 && o.PadBottom == 0 && o.PadRight == 0;
    }

    /// <summary>
    /// y (N, M, OH, OW) = conv(x, w) + b (+ residual, then max(0, ·), as Conv2dKernel.Forward) for a geometry where
    /// <see cref="Applies"/> holds.
    /// </summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        ReadOnlySpan<float> residual, bool relu, Conv2dPackedWeights? prepacked = null)
    {
        var subsampled = new Conv2dGeometry(g.Batch, g.InChannels, g.OutHeight, g.OutWidth, g.OutChannels, 1, 1,
            new ConvParameters(1, 1, 0, 0, 0, 0, 1, 1, g.Groups));
        int count = g.Batch * g.InChannels * g.OutPixels;
        var buffer = ArrayPool<float>.Shared.Rent(count);
        try
        {
            Subsample(g, x, buffer);
            Conv2dKernel.Forward(subsampled, buffer.AsSpan(0, count), weight, bias, y, residual, relu, prepacked);
        }
        finally { ArrayPool<float>.Shared.Return(buffer); }
    }

    /// <summary>picked[n, c, oy, ox] = x[n, c, oy·sH, ox·sW].</summary>
    private static unsafe void Subsample(Conv2dGeometry g, ReadOnlySpan<float> x, Span<float> picked)
    {
        int sh = g.Options.StrideH, sw = g.Options.StrideW, w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        long planes = (long)g.Batch * g.InChannels;
        fixed (float* source = x, destination = picked)
        {
            float* to = destination;
            for (long p = 0; p < planes; p++)
            {
                float* plane = source + p * g.InPixels;
                for (int oy = 0; oy < oh; oy++, to += ow)
                {
                    float* row = plane + (long)oy * sh * w;
                    if (sw == 2) StrideTwoSplit.Split(row, Math.Min(w, 2 * ow), to, null);
                    else for (int ox = 0; ox < ow; ox++) to[ox] = row[ox * sw];
                }
            }
        }
    }
}
