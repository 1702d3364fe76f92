// The pooling and batch-norm kernels against naive loops written from the definitions: a window of
// kernel taps at stride steps over a −∞ (max) or excluded/counted (average) padding, and per-channel
// statistics in double. Output sizes are checked on cases worked out by hand from PyTorch's rule.
using Condense.Kernels.Normalization;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class PoolingTests
{
    [Theory]
    [InlineData(28, 2, 2, 0, 1, false, 14)]
    [InlineData(5, 2, 2, 0, 1, false, 2)]
    [InlineData(5, 2, 2, 0, 1, true, 3)]   // the last window overhangs the input
    [InlineData(6, 3, 2, 1, 1, true, 4)]   // starts −1, 1, 3, 5
    [InlineData(5, 2, 2, 1, 1, true, 3)]   // a window starting at 5 would lie in the padding: dropped
    [InlineData(7, 3, 1, 0, 2, false, 3)]  // dilation 2 spans 5
    public void OutputSizeFollowsPyTorch(int input, int kernel, int stride, int pad, int dilation, bool ceil, int expected)
    {
        var window = PoolWindow.Square(kernel, stride, pad, dilation, ceil);
        Assert.Equal((expected, expected), window.OutputSize(input, input));
    }

    [Fact]
    public void WindowLargerThanInputIsAOneLineError()
    {
        var e = Assert.Throws<CondenseException>(() => PoolWindow.Square(5).OutputSize(3, 3));
        Assert.DoesNotContain('\n', e.Message);
    }

    public static TheoryData<int, int, int, int, int, int, bool> MaxCases() => new()
    {
        // h, w, kernel, stride, pad, dilation, ceil
        { 7, 9, 2, 2, 0, 1, false },
        { 7, 9, 2, 2, 0, 1, true },
        { 8, 8, 3, 2, 1, 1, false },
        { 8, 7, 3, 2, 1, 1, true },
        { 9, 11, 3, 1, 1, 2, false },
        { 10, 10, 2, 3, 1, 2, true },
        { 1, 5, 1, 1, 0, 1, false },
        // MaxPoolRows (no dilation, horizontal stride 1 or 2): rows wider than a vector, stride 1, ceil-mode overhang,
        // a kernel wider than the stride's lanes.
        { 9, 37, 3, 2, 1, 1, false },
        { 12, 20, 3, 1, 1, 1, false },
        { 11, 11, 3, 2, 1, 1, true },
        { 6, 5, 5, 2, 2, 1, true },
    };

    [Theory]
    [MemberData(nameof(MaxCases))]
    public void MaxPoolMatchesNaiveLoops(int h, int w, int kernel, int stride, int pad, int dilation, bool ceil)
    {
        var window = PoolWindow.Square(kernel, stride, pad, dilation, ceil);
        var (outH, outW) = window.OutputSize(h, w);
        int planes = 6;
        var x = Tensor.Normal(new Rng(3), 0f, 1f, planes, h, w).Data;
        var y = new float[planes * outH * outW];
        var argmax = new int[y.Length];
        Pooling.MaxForward(x, y, planes, h, w, window);
        Pooling.MaxArgmax(x, y, argmax, planes, h, w, window);
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    float best = float.NegativeInfinity;
                    for (int kh = 0; kh < kernel; kh++)
                        for (int kw = 0; kw < kernel; kw++)
                        {
                            int ih = oh * stride - pad + kh * dilation, iw = ow * stride - pad + kw * dilation;
                            float v = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[(p * h + ih) * w + iw] : float.NegativeInfinity;
                            best = Math.Max(best, v);
                        }
                    int o = (p * outH + oh) * outW + ow;
                    Assert.Equal(best, y[o]);
                    Assert.Equal(best, x[p * h * w + argmax[o]]);
                }
    }

    [Theory]
    [InlineData(3, 2, 0, 1, 1, 0)]    // ResNet's window with the padding on one side only (as CNTK exports it)
    [InlineData(3, 1, 2, 0, 0, 2)]    // horizontal stride 1, vertical stride 3
    [InlineData(2, 2, 1, 1, 1, 1)]    // stride 2 both ways, wider than the 2 × 2 tiles allow (padded)
    public void MaxPoolByRowsMatchesNaiveLoopsWithAsymmetricPaddingNaNAndSignedZeros(int kernel, int strideW, int padTop, int padLeft,
        int padBottom, int padRight)
    {
        int strideH = strideW == 1 ? 3 : 2, h = 9, w = 21, planes = 3;
        var window = new Condense.Kernels.Pool.PoolParameters(kernel, kernel, strideH, strideW, padTop, padLeft, padBottom, padRight, 1, 1, false);
        var (outH, outW) = window.OutputSize(h, w);
        var x = Tensor.Normal(new Rng(5), 0f, 1f, planes, h, w).Data;
        x[17] = float.NaN;
        x[w + 3] = float.NaN;       // and one where the rows run on whole vectors
        x[h * w + 40] = -0f;
        x[h * w + 41] = 0f;
        for (int i = 2 * h * w; i < 3 * h * w; i++) x[i] = -0f;   // a plane of negative zeros: the max is −0
        x[2 * h * w + 5] = 0f;
        var y = new float[planes * outH * outW];
        Pooling.MaxForward(x, y, planes, h, w, window);
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    float best = float.NegativeInfinity;
                    for (int kh = 0; kh < kernel; kh++)
                        for (int kw = 0; kw < kernel; kw++)
                        {
                            int ih = oh * strideH - padTop + kh, iw = ow * strideW - padLeft + kw;
                            if (ih >= 0 && ih < h && iw >= 0 && iw < w) best = MathF.Max(best, x[(p * h + ih) * w + iw]);
                        }
                    float actual = y[(p * outH + oh) * outW + ow];
                    Assert.True(BitConverter.SingleToInt32Bits(best) == BitConverter.SingleToInt32Bits(actual) || float.IsNaN(best) && float.IsNaN(actual),
                        $"plane {p} ({oh}, {ow}): expected {best}, got {actual}");
                }
    }

    [Fact]
    public void MaxPoolPropagatesNaNAndRoutesToIt()
    {
        // One 2 × 4 plane, two 2 × 2 windows: the first holds a NaN, the second ties at 5.
        float[] x = [1f, float.NaN, 5f, 2f, 3f, 0f, 5f, 4f];
        var y = new float[2];
        var argmax = new int[2];
        var window = PoolWindow.Square(2);
        Pooling.MaxForward(x, y, 1, 2, 4, window);
        Pooling.MaxArgmax(x, y, argmax, 1, 2, 4, window);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(5f, y[1]);
        Assert.Equal([1, 2], argmax); // the NaN, then the first of the tied maxima (row-major)
    }

    public static TheoryData<int, int, int, int, int, bool, bool> AvgCases() => new()
    {
        // h, w, kernel, stride, pad, ceil, countIncludePad
        { 7, 9, 2, 2, 0, false, true },
        { 7, 9, 2, 2, 0, true, false },
        { 7, 9, 2, 2, 0, true, true },
        { 8, 7, 3, 2, 1, false, true },
        { 8, 7, 3, 2, 1, false, false },
        { 8, 7, 3, 2, 1, true, true },
        { 6, 6, 3, 3, 1, true, false },
        { 5, 13, 4, 1, 2, false, true },
        { 35, 35, 3, 1, 1, false, true },      // Inception's 3 × 3 stride-1 pooling
        { 9, 11, 3, 1, 1, false, false },
        { 17, 6, 5, 1, 2, true, false },
        { 3, 4, 5, 1, 2, false, true },        // stride 1, width kept, no row whose window lies inside the input
        { 3, 4, 5, 1, 2, false, false },
        { 1, 1, 3, 1, 1, false, false },
        { 1, 2, 7, 1, 3, false, true },        // a padding wider than the plane
        { 8, 8, 1, 1, 0, false, false },
    };

    [Theory]
    [MemberData(nameof(AvgCases))]
    public void AvgPoolMatchesNaiveLoops(int h, int w, int kernel, int stride, int pad, bool ceil, bool countIncludePad)
    {
        var window = PoolWindow.Square(kernel, stride, pad, 1, ceil);
        var (outH, outW) = window.OutputSize(h, w);
        int planes = 5;
        var x = Tensor.Normal(new Rng(4), 0f, 1f, planes, h, w).Data;
        foreach (var path in Cpu.SupportedPaths)
        {
            var y = new float[planes * outH * outW];
            using (Cpu.Force(path)) Pooling.AvgForward(x, y, planes, h, w, window, countIncludePad);
            AssertAverages(x, y, planes, h, w, outH, outW, kernel, stride, pad, countIncludePad);
        }
    }

    private static void AssertAverages(float[] x, float[] y, int planes, int h, int w, int outH, int outW, int kernel, int stride, int pad,
        bool countIncludePad)
    {
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    double sum = 0;
                    int inside = 0, padded = 0;
                    for (int kh = 0; kh < kernel; kh++)
                        for (int kw = 0; kw < kernel; kw++)
                        {
                            int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                            // A tap in the padding counts with count_include_pad; one beyond the padding (ceil overhang) never does.
                            if (ih < h + pad && iw < w + pad) padded++;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            sum += x[(p * h + ih) * w + iw];
                            inside++;
                        }
                    double expected = sum / (countIncludePad ? padded : inside);
                    Assert.Equal(expected, y[(p * outH + oh) * outW + ow], 2e-6);
                }
    }

    [Fact]
    public void ThreadsDoNotChangeTheResultOnALeNetSizedBatch()
    {
        // 64 × 6 × 28 × 28 → 14 × 14: large enough to split the planes between the workers.
        var window = PoolWindow.Square(2);
        int planes = 64 * 6;
        var x = Tensor.Normal(new Rng(5), 0f, 1f, planes, 28, 28).Data;
        float[] Run(int threads, out int[] argmax)
        {
            int? saved = Cpu.ThreadsOnThisThread;
            Cpu.ThreadsOnThisThread = threads;
            try
            {
                var y = new float[planes * 14 * 14];
                argmax = new int[y.Length];
                Pooling.MaxForward(x, y, planes, 28, 28, window);
                Pooling.MaxArgmax(x, y, argmax, planes, 28, 28, window);
                var avg = new float[y.Length];
                Pooling.AvgForward(x, avg, planes, 28, 28, window, true);
                return [.. y, .. avg];
            }
            finally { Cpu.ThreadsOnThisThread = saved; }
        }
        var one = Run(1, out var argmaxOne);
        var two = Run(2, out var argmaxTwo);
        Assert.Equal(one, two);
        Assert.Equal(argmaxOne, argmaxTwo);
        for (int i = 0; i < argmaxOne.Length; i++) Assert.Equal(one[i], x[i / 196 * 784 + argmaxOne[i]]);
    }

    [Fact]
    public void BatchNormStatisticsAreTheBiasedMomentsPerChannel()
    {
        int n = 3, c = 4, s = 7;
        var x = Tensor.Normal(new Rng(6), 100f, 2f, n, c, s).Data; // a large mean: the variance must not lose it
        var mean = new float[c];
        var variance = new float[c];
        BatchNormKernels.Statistics(x, n, c, s, mean, variance);
        for (int ch = 0; ch < c; ch++)
        {
            var values = Enumerable.Range(0, n).SelectMany(b => x.Skip((b * c + ch) * s).Take(s)).Select(v => (double)v).ToArray();
            double m = values.Average(), v = values.Select(a => (a - m) * (a - m)).Average();
            Assert.Equal(m, mean[ch], 4);
            Assert.Equal(v, variance[ch], 4);
        }
    }
}
