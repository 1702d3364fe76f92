// The 2 × 2 / stride-2 pooling fast path on every kernel path against naive loops written from the
// definitions: max (IEEE maximum: NaN wins, +0 above −0), mean, and the backward passes, whose max
// gradient goes to the first tap (row-major) equal to the output or to the first NaN. Inputs are drawn
// from a few values so that ties are common, with NaNs and signed zeros mixed in; widths are chosen to
// leave vector tails and odd trailing rows/columns.
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class PoolingTilesTests
{
    public static TheoryData<KernelPath, int, int, bool> Cases()
    {
        var data = new TheoryData<KernelPath, int, int, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (var (h, w) in new[] { (28, 28), (7, 9), (6, 70), (3, 35), (2, 2), (10, 33), (10, 10), (4, 13) })
                data.Add(path, h, w, h % 2 == 0 && w % 2 == 0); // ceil mode is only the fast path when it adds no window
        return data;
    }

    // Values in {−1, −0, 0, 1, 2} (many ties), with a NaN in about one in forty.
    private static float[] TiedInput(int seed, int length)
    {
        var random = new Random(seed);
        float[] values = [-1f, -0f, 0f, 1f, 2f];
        return Enumerable.Range(0, length).Select(_ => random.Next(40) == 0 ? float.NaN : values[random.Next(values.Length)]).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MaxForwardAndBackwardMatchNaiveLoops(KernelPath path, int h, int w, bool ceil)
    {
        int planes = 3, outH = h / 2, outW = w / 2;
        var window = PoolWindow.Square(2, ceilMode: ceil);
        Assert.True(PoolingTiles.Fits(window, h, w));
        var x = TiedInput(h * 100 + w, planes * h * w);
        var gy = Tensor.Normal(new Rng(9), 0f, 1f, planes * outH * outW).Data;
        var y = new float[gy.Length];
        var gx = Enumerable.Repeat(123f, x.Length).ToArray(); // must be overwritten, not added to
        using (Cpu.Force(path))
        {
            Pooling.MaxForward(x, y, planes, h, w, window);
            Pooling.MaxBackward(x, y, gy, gx, planes, h, w, window);
        }
        var expectedGx = new float[x.Length];
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    int[] taps = [.. from dh in new[] { 0, 1 } from dw in new[] { 0, 1 } select (p * h + 2 * oh + dh) * w + 2 * ow + dw];
                    float best = taps.Select(i => x[i]).Aggregate(float.NegativeInfinity, MathF.Max);
                    int o = (p * outH + oh) * outW + ow;
                    AssertSame(best, y[o]);
                    int argmax = taps.First(i => x[i] == best || float.IsNaN(x[i]));
                    expectedGx[argmax] = gy[o];
                }
        Assert.Equal(expectedGx, gx);
    }

    // The same value, the sign of zero included; any NaN matches any NaN.
    private static void AssertSame(float expected, float actual)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"expected NaN, got {actual}");
        else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MaxBackwardRoutesAsTheStoredArgmax(KernelPath path, int h, int w, bool ceil)
    {
        // The general path's MaxArgmax (no fast path) decides the routing the recomputation must reproduce.
        int planes = 2;
        var window = PoolWindow.Square(2, ceilMode: ceil);
        var x = TiedInput(h * 7 + w, planes * h * w);
        var y = new float[planes * (h / 2) * (w / 2)];
        var gy = Tensor.Normal(new Rng(10), 0f, 1f, y.Length).Data;
        var argmax = new int[y.Length];
        var stored = new float[x.Length];
        var recomputed = new float[x.Length];
        using (Cpu.Force(path))
        {
            Pooling.MaxForward(x, y, planes, h, w, window);
            Pooling.MaxArgmax(x, y, argmax, planes, h, w, window);
            Pooling.MaxBackward(gy, argmax, stored, planes, h * w);
            Pooling.MaxBackward(x, y, gy, recomputed, planes, h, w, window);
        }
        Assert.Equal(stored, recomputed);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AvgForwardAndBackwardMatchNaiveLoops(KernelPath path, int h, int w, bool ceil)
    {
        int planes = 3, outH = h / 2, outW = w / 2;
        var window = PoolWindow.Square(2, ceilMode: ceil);
        var x = Tensor.Normal(new Rng(11), 0f, 1f, planes * h * w).Data;
        var gy = Tensor.Normal(new Rng(12), 0f, 1f, planes * outH * outW).Data;
        var y = new float[gy.Length];
        var gx = Enumerable.Repeat(123f, x.Length).ToArray();
        using (Cpu.Force(path))
        {
            Pooling.AvgForward(x, y, planes, h, w, window, countIncludePad: false);
            Pooling.AvgBackward(gy, gx, planes, h, w, window, countIncludePad: true);
        }
        for (int p = 0; p < planes; p++)
            for (int ih = 0; ih < h; ih++)
                for (int iw = 0; iw < w; iw++)
                {
                    bool inWindow = ih / 2 < outH && iw / 2 < outW;
                    int o = (p * outH + ih / 2) * outW + iw / 2;
                    Assert.Equal(inWindow ? gy[o] / 4 : 0f, gx[(p * h + ih) * w + iw]);
                    if (!inWindow || ih % 2 == 1 || iw % 2 == 1) continue;
                    int i = (p * h + ih) * w + iw;
                    double sum = (double)x[i] + x[i + 1] + x[i + w] + x[i + w + 1];
                    Assert.Equal(sum / 4, y[o], 5);
                }
    }

    [Fact]
    public void GeneralWindowsDoNotTakeTheFastPath()
    {
        Assert.False(PoolingTiles.Fits(PoolWindow.Square(2, ceilMode: true), 7, 8));  // ceil adds a row of windows
        Assert.False(PoolingTiles.Fits(PoolWindow.Square(2, padding: 1), 8, 8));
        Assert.False(PoolingTiles.Fits(PoolWindow.Square(2, stride: 1), 8, 8));
        Assert.False(PoolingTiles.Fits(PoolWindow.Square(2, dilation: 2), 8, 8));
        Assert.False(PoolingTiles.Fits(PoolWindow.Square(3), 9, 9));
    }

    [Fact]
    public void ThreadsDoNotChangeTheFastPathBits()
    {
        int planes = 64 * 6, h = 28, w = 28;
        var window = PoolWindow.Square(2);
        var x = TiedInput(5, planes * h * w);
        var gy = Tensor.Normal(new Rng(13), 0f, 1f, planes * 14 * 14).Data;
        float[] Run(int threads)
        {
            int? saved = Cpu.ThreadsOnThisThread;
            Cpu.ThreadsOnThisThread = threads;
            try
            {
                var y = new float[gy.Length];
                var avg = new float[gy.Length];
                var gxMax = new float[x.Length];
                var gxAvg = new float[x.Length];
                Pooling.MaxForward(x, y, planes, h, w, window);
                Pooling.MaxBackward(x, y, gy, gxMax, planes, h, w, window);
                Pooling.AvgForward(x, avg, planes, h, w, window, true);
                Pooling.AvgBackward(gy, gxAvg, planes, h, w, window, true);
                return [.. y, .. avg, .. gxMax, .. gxAvg];
            }
            finally { Cpu.ThreadsOnThisThread = saved; }
        }
        Assert.Equal(Run(1).Select(BitConverter.SingleToInt32Bits), Run(2).Select(BitConverter.SingleToInt32Bits));
    }
}
