// The specification of Conv2dKernel: the convolution as ONNX Conv defines it, written as the naive seven
// nested loops (image, output channel, output row, output column, input channel of the group, kernel
// row, kernel column), and its two gradients as the same loops scattering instead of gathering. Written
// for clarity, not speed; tests and the benchmark compare the im2col + GEMM kernel against it.
namespace Condense.Kernels.Conv;

/// <summary>Naive 2-D convolution with exactly the contract of <see cref="Conv2dKernel"/>.</summary>
internal static class Conv2dReference
{
    /// <summary>y (N, M, OH, OW) = conv(x (N, C, H, W), w (M, C/g, kH, kW)) + b (M, or empty).</summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        var o = g.Options;
        int cg = g.InPerGroup, mg = g.OutPerGroup;
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float sum = b.IsEmpty ? 0f : b[m];
                        int group = m / mg;
                        for (int c = 0; c < cg; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    // Output pixel (oy, ox) sees input (oy·s − pad_begin + k·d); outside the image is zero padding.
                                    int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
                                    int ix = ox * o.StrideW - o.PadLeft + kx * o.DilationW;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    sum += x[Index(n, group * cg + c, iy, ix, g.InChannels, g.Height, g.Width)]
                                         * w[Index(m, c, ky, kx, cg, g.KernelH, g.KernelW)];
                                }
                        y[Index(n, m, oy, ox, g.OutChannels, g.OutHeight, g.OutWidth)] = sum;
                    }
    }

    /// <summary>dx (N, C, H, W) = ∂L/∂x given dy = ∂L/∂y: each product of the forward sum sends dy·w back to its x; overwrites dx.</summary>
    public static void BackwardInput(Conv2dGeometry g, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> dx)
    {
        var o = g.Options;
        int cg = g.InPerGroup, mg = g.OutPerGroup;
        dx.Clear();
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float d = dy[Index(n, m, oy, ox, g.OutChannels, g.OutHeight, g.OutWidth)];
                        int group = m / mg;
                        for (int c = 0; c < cg; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
                                    int ix = ox * o.StrideW - o.PadLeft + kx * o.DilationW;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    dx[Index(n, group * cg + c, iy, ix, g.InChannels, g.Height, g.Width)] +=
                                        d * w[Index(m, c, ky, kx, cg, g.KernelH, g.KernelW)];
                                }
                    }
    }

    /// <summary>dw (M, C/g, kH, kW) = ∂L/∂w given x and dy = ∂L/∂y: each product sends dy·x back to its w; overwrites dw.</summary>
    public static void BackwardWeight(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw)
    {
        var o = g.Options;
        int cg = g.InPerGroup, mg = g.OutPerGroup;
        dw.Clear();
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float d = dy[Index(n, m, oy, ox, g.OutChannels, g.OutHeight, g.OutWidth)];
                        int group = m / mg;
                        for (int c = 0; c < cg; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * o.StrideH - o.PadTop + ky * o.DilationH;
                                    int ix = ox * o.StrideW - o.PadLeft + kx * o.DilationW;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    dw[Index(m, c, ky, kx, cg, g.KernelH, g.KernelW)] +=
                                        d * x[Index(n, group * cg + c, iy, ix, g.InChannels, g.Height, g.Width)];
                                }
                    }
    }

    private static int Index(int a, int b, int c, int d, int sizeB, int sizeC, int sizeD) => ((a * sizeB + b) * sizeC + c) * sizeD + d;
}
