// col2im (Chellapilla et al. 2006, "High performance convolutional neural networks for document
// processing"; Caffe's col2im_cpu): the im2col matrix holds the input patches of one image and one group as
// its columns, row r = (c·kH + kh)·kW + kw being input channel c shifted by (kh, kw) and sampled at the
// output pixels; the strided input gradient is a GEMM into that matrix, scattered back onto the image here, and a strided
// 1×1 convolution is a GEMM from it (Conv2dGemm), which Fill writes.
using System.Runtime.CompilerServices;

namespace Condense.Kernels.Conv;

/// <summary>im2col of one image and group, and col2im: its transpose-and-sum.</summary>
internal static unsafe class Im2Col
{
    /// <summary>
    /// The adjoint of im2col: image[c, iy, ix] += col[row, pixel] for every (row, pixel) that im2col
    /// reads from (c, iy, ix); padded positions are dropped. Rows are summed in order,
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
    /// col[row, pixel] = image[c, oy·sH + kh·dH − padTop, ox·sW + kw·dW − padLeft], 0 where that lies in the padding; col is
    /// [C/g · kH · kW, OH · OW].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill(Conv2dGeometry g, float* image, float* col)
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
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * sh + rowOffset;
                        float* dst = col + y * ow;
                        if ((uint)iy >= (uint)h || hi <= lo) { new Span<float>(dst, ow).Clear(); continue; }
                        for (int x = 0; x < lo; x++) dst[x] = 0f;
                        for (int x = hi; x < ow; x++) dst[x] = 0f;
                        float* src = plane + iy * w + colOffset;
                        if (sw == 1) new ReadOnlySpan<float>(src + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                        else if (sw == 2) StrideTwoSplit.Split(src + 2 * lo, 2 * (hi - lo) - 1, dst + lo, null);
                        else for (int x = lo; x < hi; x++) dst[x] = src[x * sw];
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
