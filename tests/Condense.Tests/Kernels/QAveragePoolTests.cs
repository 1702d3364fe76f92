// Average pooling of channels-last codes with requantization (Kernels/Int8Conv/QAveragePool) against the definition written
// out in double: dequantize each tap inside the image, average over the divisor (the taps inside, or with count_include_pad
// those inside the padded image), quantize at the output's (s, z) and clamp — every path within one step of it, the vector
// paths equal to the scalar one, on windows with padding, strides, ceil-mode overhang and channel counts past a multiple
// of 16.
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QAveragePoolTests
{
    [Theory]
    [InlineData(9, 7, 37, 3, 1, 1, false, true)]     // Inception's 3 × 3, stride 1, padding 1, padding counted
    [InlineData(9, 7, 37, 3, 1, 1, false, false)]
    [InlineData(8, 8, 16, 2, 2, 0, false, false)]    // DenseNet's transition
    [InlineData(7, 9, 20, 3, 2, 1, true, true)]      // ceil-mode overhang past the padding
    public void PoolsAsTheDefinitionDoes(int height, int width, int channels, int kernel, int stride, int pad, bool ceil, bool countIncludePad)
    {
        var window = PoolWindow.Square(kernel, stride, pad, 1, ceil);
        var (outH, outW) = window.OutputSize(height, width);
        int n = 2;
        var rng = new Rng(13);
        var x = Tensor.Uniform(rng, 0f, 255.99f, n * height * width * channels).Data.Select(v => (byte)v).ToArray();
        var q = new PoolRequantization(0.043f, 37, 0.031f, 90, 12, 250);
        byte[]? scalar = null;
        foreach (var path in Cpu.SupportedPaths)
        {
            var y = new byte[n * outH * outW * channels];
            using (Cpu.Force(path)) QAveragePool.ChannelsLast(x, y, n, height, width, channels, window, countIncludePad, q);
            if (scalar is null) scalar = y;
            else Assert.Equal(scalar, y);
            for (int i = 0; i < n; i++)
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                        for (int c = 0; c < channels; c++)
                        {
                            double sum = 0;
                            int inside = 0, padded = 0;
                            for (int kh = 0; kh < kernel; kh++)
                                for (int kw = 0; kw < kernel; kw++)
                                {
                                    int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                                    if (ih < height + pad && iw < width + pad) padded++;
                                    if (ih < 0 || ih >= height || iw < 0 || iw >= width) continue;
                                    sum += (x[((i * height + ih) * width + iw) * channels + c] - q.ZeroPoint) * (double)q.Scale;
                                    inside++;
                                }
                            double v = sum / (countIncludePad ? padded : inside);
                            double expected = Math.Clamp(Math.Round(v / q.ToScale, MidpointRounding.ToEven) + q.ToZeroPoint, q.Lo, q.Hi);
                            int actual = y[((i * outH + oh) * outW + ow) * channels + c];
                            Assert.True(Math.Abs(actual - expected) <= 1, $"{path} ({i}, {oh}, {ow}, {c}): {actual} vs {expected}");
                        }
        }
    }
}
