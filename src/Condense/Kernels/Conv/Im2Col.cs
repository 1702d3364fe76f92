// im2col and col2im (Chellapilla et al. 2006, "High performance convolutional neural networks for document
// processing"; Caffe's im2col_cpu): the input patches of one image and one group as the columns of a
// matrix, so that the convolution is a GEMM, and the transpose that scatters patch gradients back onto
// the image. Row r = (c·kH + kh)·kW + kw of the matrix is input channel c shifted by (kh, kw) and sampled
// at the output pixels, so a weight (M, C/g, kH, kW) read as (M, C/g·kH·kW) multiplies it directly.
// Pack is generic so the integer convolution can pack uint8 activations with their zero point as padding.
using System.Runtime.CompilerServices;

namespace Condense.Kernels.Conv;

/// <summary>The im2col matrix of one image and group, and its transpose-and-sum col2im.</summary>
internal static unsafe class Im2Col
{
    /// <summary>
    /// col[(c·kH + kh)·kW + kw, oh·OW + ow] = image[c, oh·sH − padTop + kh·dH, ow·sW − padLeft + kw·dW], or
    /// <paramref name="pad"/> outside the image; c runs over the group's C/g channels starting at
    /// <paramref name="image"/> (which points at the group's first channel, (C/g, H, W)). col is
    /// (C/g·kH·kW, OH·OW), tight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack<T>(Conv2dGeometry g, T* image, T* col, T pad) where T : unmanaged
    {
        var o = g.Options;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, sh = o.StrideH, sw = o.StrideW;
        for (int c = 0; c < g.InPerGroup; c++)
        {
            T* plane = image + (long)c * h * w;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int rowOffset = kh * o.DilationH - o.PadTop;
                for (int kw = 0; kw < g.KernelW; kw++, col += oh * ow)
                {
                    int colOffset = kw * o.DilationW - o.PadLeft;
                    var (lo, hi) = ValidRange(colOffset, sw, w, ow);
                    for (int y = 0; y < oh; y++)
                    {
                        T* dst = col + y * ow;
                        int iy = y * sh + rowOffset;
                        if ((uint)iy >= (uint)h) { new Span<T>(dst, ow).Fill(pad); continue; }
                        T* src = plane + iy * w + colOffset;
                        for (int x = 0; x < lo; x++) dst[x] = pad;
                        if (sw == 1) Unsafe.CopyBlockUnaligned(dst + lo, src + lo, (uint)((hi - lo) * sizeof(T)));
                        else for (int x = lo; x < hi; x++) dst[x] = src[x * sw];
                        for (int x = hi; x < ow; x++) dst[x] = pad;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Pack{T}"/>: image[c, iy, ix] += col[row, pixel] for every (row, pixel) that
    /// <see cref="Pack{T}"/> read from (c, iy, ix); padded positions are dropped. Rows are summed in order,
    /// so the result does not depend on threads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddBack(Conv2dGeometry g, float* col, float* image)
    {
        var o = g.Options;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, sh = o.StrideH, sw = o.StrideW;
        for (int c = 0; c < g.InPerGroup; c++)
        {
            float* plane = image + (long)c * h * w;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int rowOffset = kh * o.DilationH - o.PadTop;
                for (int kw = 0; kw < g.KernelW; kw++, col += oh * ow)
                {
                    int colOffset = kw * o.DilationW - o.PadLeft;
                    var (lo, hi) = ValidRange(colOffset, sw, w, ow);
                    if (hi <= lo) continue;
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * sh + rowOffset;
                        if ((uint)iy >= (uint)h) continue;
                        float* src = col + y * ow;
                        float* dst = plane + iy * w + colOffset;
                        if (sw == 1)
                        {
                            var d = new Span<float>(dst + lo, hi - lo);
                            System.Numerics.Tensors.TensorPrimitives.Add(d, new ReadOnlySpan<float>(src + lo, hi - lo), d);
                        }
                        else for (int x = lo; x < hi; x++) dst[x * sw] += src[x];
                    }
                }
            }
        }
    }

    /// <summary>
    /// The output columns [lo, hi) whose input column x·stride + offset lies inside [0, width); the rest read padding.
    /// </summary>
    private static (int Lo, int Hi) ValidRange(int offset, int stride, int width, int outWidth)
    {
        // x·s + offset ≥ 0  ⇔  x ≥ ceil(−offset / s);  x·s + offset ≤ width − 1  ⇔  x ≤ floor((width − 1 − offset) / s).
        int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int last = width - 1 - offset;
        int hi = last < 0 ? 0 : last / stride + 1;
        lo = Math.Min(lo, outWidth);
        hi = Math.Clamp(hi, lo, outWidth);
        return (lo, hi);
    }
}
