// Average pooling of channels-last uint8 codes into the codes of another quantization: for each window, the exact integer
// sum of (q − z) over its taps inside the image (a padded tap holds the zero point, 0 after subtracting it), then
// v = sum·s / divisor and QuantizeLinear at (s', z') clamped to [lo, hi]. The divisor is Pooling.AvgAxis's: the taps inside
// the image, or with count_include_pad those inside the padded image. The float simulation sums s·(q − z) in float in
// another order, so a code can differ by one step where v falls next to a rounding boundary. The scalar loop is the
// reference; the AVX-512 loop sums 16 channels of a pixel at a time in int32 lanes and rounds as QuantizeLinear does.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;

namespace Condense.Kernels.Int8Conv;

/// <summary>The (s, z) of the pooled codes and of the codes written, and the clamp of the activations after the pool.</summary>
internal readonly record struct PoolRequantization(float Scale, byte ZeroPoint, float ToScale, byte ToZeroPoint, byte Lo, byte Hi);

/// <summary>Average pooling of channels-last codes with requantization.</summary>
internal static unsafe class QAveragePool
{
    /// <summary>y (N, OH, OW, C) from x (N, H, W, C) codes; dilation 1.</summary>
    public static void ChannelsLast(ReadOnlySpan<byte> x, Span<byte> y, int n, int height, int width, int channels, PoolParameters window,
        bool countIncludePad, PoolRequantization q)
    {
        var (outH, outW) = window.OutputSize(height, width);
        if (window.DilationH != 1 || window.DilationW != 1) throw new ArgumentException("average pooling of codes needs dilation 1");
        if (x.Length < n * height * width * channels || y.Length < n * outH * outW * channels) throw new ArgumentException("the spans are too short");
        bool vector = Cpu.Active == KernelPath.Avx512;
        fixed (byte* px = x, py = y)
        {
            byte* xp = px, yp = py;
            ParallelRanges.For(n * outH, (long)n * outH * outW * channels * window.KernelH * window.KernelW, 1 << 16, (first, last) =>
            {
                for (int row = first; row < last; row++)
                {
                    int image = row / outH, oh = row % outH;
                    var (h0, h1, rows) = Pooling.AvgAxis(oh, height, window.KernelH, window.StrideH, window.PadTop, window.PadBottom, countIncludePad);
                    for (int ow = 0; ow < outW; ow++)
                    {
                        var (w0, w1, columns) = Pooling.AvgAxis(ow, width, window.KernelW, window.StrideW, window.PadLeft, window.PadRight, countIncludePad);
                        byte* corner = xp + ((long)(image * height + h0) * width + w0) * channels;
                        byte* output = yp + ((long)(image * outH + oh) * outW + ow) * channels;
                        int c = vector ? PixelAvx512(corner, output, channels, h1 - h0, w1 - w0, width * channels, rows * columns, q) : 0;
                        for (; c < channels; c++)
                        {
                            int sum = 0;
                            for (int ih = 0; ih < h1 - h0; ih++)
                                for (int iw = 0; iw < w1 - w0; iw++) sum += corner[((long)ih * width + iw) * channels + c] - q.ZeroPoint;
                            output[c] = Requantize(sum, rows * columns, q);
                        }
                    }
                }
            });
        }
    }

    /// <summary>The code of a window whose (q − z) sum to <paramref name="sum"/> over <paramref name="divisor"/> taps (0: an empty window).</summary>
    public static byte Requantize(int sum, int divisor, PoolRequantization q)
    {
        float v = divisor > 0 ? sum * q.Scale / divisor : 0f;
        return (byte)Math.Clamp(QuantizeLinear.Quantize(v, q.ToScale, q.ToZeroPoint, 0, 255), q.Lo, q.Hi);
    }

    // Returns how many channels it wrote (a multiple of 16); the scalar loop writes the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PixelAvx512(byte* corner, byte* output, int channels, int rows, int columns, int rowStride, int divisor, PoolRequantization q)
    {
        var zeros = Vector512.Create(rows * columns * (int)q.ZeroPoint);
        var scale = Vector512.Create(q.Scale);
        var divide = Vector512.Create((float)Math.Max(divisor, 1));
        var toScale = Vector512.Create(q.ToScale);
        var toZero = Vector512.Create((float)q.ToZeroPoint);
        var lo = Vector512.Create((float)q.Lo);
        var hi = Vector512.Create((float)q.Hi);
        int c = 0;
        for (; c <= channels - 16; c += 16)
        {
            var sum = Vector512<int>.Zero;
            for (int ih = 0; ih < rows; ih++)
                for (int iw = 0; iw < columns; iw++)
                    sum += Avx512F.ConvertToVector512Int32(Vector128.Load(corner + (long)ih * rowStride + (long)iw * channels + c));
            var v = divisor > 0 ? Avx512F.ConvertToVector512Single(sum - zeros) * scale / divide : Vector512<float>.Zero;
            QuantizeLinear.ToCodes(v, toScale, toZero, lo, hi).Store(output + c);
        }
        return c;
    }
}
