// The specification of the int8 convolution (QConv2d.cs, and QDepthwiseConv2d.cs for groups = C), as naive loops over NCHW
// tensors; with g groups output channel o reads the C/g input channels of its group, c_g = (o / (M/g))·(C/g):
//   acc[n, o, oy, ox] = Σ_{c,kh,kw} (x[n, c_g + c, iy, ix] − z_x) · w[o, c, kh, kw] + bias[o],  c < C/g,
//   iy = oy·sH − pT + kh·dH, ix = ox·sW − pL + kw·dW, with x − z_x = 0 outside the image (zero padding in float);
//   y = clamp(z_y + MultiplyByQuantizedMultiplier(acc, multiplier[o], shift[o]), qmin, qmax).
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;

namespace Condense.Kernels.Int8Conv;

/// <summary>Naive integer convolution (any groups): the reference the fast kernel must equal exactly.</summary>
public static class QConv2dReference
{
    /// <summary>int32 accumulators (N, M, OH, OW) for x (N, C, H, W) uint8 and w (M, C/groups, kH, kW) int8; bias empty or (M).</summary>
    public static int[] Forward(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias)
    {
        ArgumentNullException.ThrowIfNull(g);
        var o = g.Options;
        var acc = new int[g.Batch * g.OutChannels * g.OutPixels];
        int perGroup = g.InPerGroup;
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        long sum = bias.IsEmpty ? 0 : bias[m];
                        int first = m / g.OutPerGroup * perGroup;
                        for (int c = 0; c < perGroup; c++)
                            for (int kh = 0; kh < g.KernelH; kh++)
                                for (int kw = 0; kw < g.KernelW; kw++)
                                {
                                    int iy = oy * o.StrideH - o.PadTop + kh * o.DilationH, ix = ox * o.StrideW - o.PadLeft + kw * o.DilationW;
                                    if ((uint)iy >= (uint)g.Height || (uint)ix >= (uint)g.Width) continue;
                                    int xv = x[((n * g.InChannels + first + c) * g.Height + iy) * g.Width + ix] - xZeroPoint;
                                    sum += (long)xv * w[((m * perGroup + c) * g.KernelH + kh) * g.KernelW + kw];
                                }
                        acc[((n * g.OutChannels + m) * g.OutHeight + oy) * g.OutWidth + ox] = (int)sum;
                    }
        return acc;
    }

    /// <summary>The requantized output (N, M, OH, OW) uint8 of <see cref="Forward"/>'s accumulators.</summary>
    public static byte[] Requantized(Conv2dGeometry g, int[] acc, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(acc);
        var y = new byte[acc.Length];
        for (int i = 0; i < acc.Length; i++)
        {
            int m = i / g.OutPixels % g.OutChannels;
            int v = yZeroPoint + Requantize.MultiplyByQuantizedMultiplier(acc[i], multiplier[m], shift[m]);
            y[i] = (byte)Math.Clamp(v, qmin, qmax);
        }
        return y;
    }
}
