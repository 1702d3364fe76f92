// im2col straight into a tile kernel's packed panel (fused packing): the block of the im2col matrix
// (Im2Col.cs) that one tile needs — kc patch rows × up to nr output pixels — is gathered from the image into
// a K-major panel, so the full column matrix (C/g·kH·kW × OH·OW floats) is never written to memory. The
// forward convolution packs one panel per pixel tile; the weight gradient packs slabs of patch rows.
using System.Runtime.CompilerServices;

namespace Condense.Kernels;

/// <summary>Blocks of the im2col matrix gathered straight from the image.</summary>
internal static unsafe class Im2ColPanel
{
    /// <summary>
    /// dst[p·stride + j] = col[row0 + p, pixel0 + j] for p &lt; kc, j &lt; cols, and 0 for cols ≤ j &lt; stride, where
    /// col is the group's im2col matrix (<see cref="Im2Col.Pack{T}"/>) of <paramref name="image"/> (C/g, H, W).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(Conv2dGeometry g, float* image, int row0, int kc, int pixel0, int cols, int stride, float* dst)
    {
        var o = g.Options;
        int h = g.Height, w = g.Width, ow = g.OutWidth, sh = o.StrideH, sw = o.StrideW, kArea = g.KernelH * g.KernelW;
        int oy0 = pixel0 / ow, ox0 = pixel0 % ow;
        for (int p = 0; p < kc; p++, dst += stride)
        {
            // Row r = (c·kH + kh)·kW + kw: input channel c shifted by (kh, kw).
            int row = row0 + p, c = row / kArea, kh = row % kArea / g.KernelW, kw = row % g.KernelW;
            float* plane = image + (long)c * h * w;
            int rowOffset = kh * o.DilationH - o.PadTop, colOffset = kw * o.DilationW - o.PadLeft;
            var (lo, hi) = Im2Col.ValidRange(colOffset, sw, w, ow);
            // Walk the tile's pixels one output row segment at a time.
            for (int j = 0, oy = oy0, ox = ox0; j < cols; j += ow - ox, ox = 0, oy++)
            {
                int run = Math.Min(ow - ox, cols - j);
                float* d = dst + j - ox; // d[x] is output column x of this segment
                int iy = oy * sh + rowOffset;
                int end = ox + run;
                if ((uint)iy >= (uint)h) { new Span<float>(d + ox, run).Clear(); continue; }
                float* src = plane + iy * w + colOffset;
                int a = Math.Clamp(lo, ox, end), b = Math.Clamp(hi, a, end);
                for (int x = ox; x < a; x++) d[x] = 0f;
                if (sw == 1) Unsafe.CopyBlockUnaligned(d + a, src + a, (uint)((b - a) * sizeof(float)));
                else for (int x = a; x < b; x++) d[x] = src[x * sw];
                for (int x = b; x < end; x++) d[x] = 0f;
            }
            if (cols < stride) new Span<float>(dst + cols, stride - cols).Clear();
        }
    }
}
