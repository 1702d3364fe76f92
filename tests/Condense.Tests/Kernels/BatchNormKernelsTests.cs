// The batch-norm kernels on every kernel path against naive loops in double: per-channel moments, the
// gradient sums Σgy and Σgy·(x − μ), the training input gradient from its definition
// γ/σ·(gy − mean(gy) − x̂·mean(gy·x̂)), and the affine pass (bit for bit: no fused multiply-add).
// Row lengths leave vector tails; the thread count must not change any bit.
using Condense.Kernels.Normalization;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class BatchNormKernelsTests
{
    public static TheoryData<KernelPath, int, int, int> Cases()
    {
        var data = new TheoryData<KernelPath, int, int, int>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (var (n, c, s) in new[] { (3, 4, 37), (5, 3, 1), (2, 2, 64), (4, 1, 23) })
                data.Add(path, n, c, s);
        return data;
    }

    private static IEnumerable<int> Channel(int n, int c, int s, int ch) =>
        Enumerable.Range(0, n).SelectMany(b => Enumerable.Range((b * c + ch) * s, s));

    [Theory]
    [MemberData(nameof(Cases))]
    public void KernelsMatchNaiveLoops(KernelPath path, int n, int c, int s)
    {
        var x = Tensor.Normal(new Rng(21), 3f, 2f, n * c * s).Data;
        var gy = Tensor.Normal(new Rng(22), 0f, 1f, n * c * s).Data;
        var gamma = Tensor.Normal(new Rng(23), 1f, 0.5f, c).Data;
        float[] mean = new float[c], variance = new float[c], sumG = new float[c], sumGCentered = new float[c];
        var invStd = new float[c];
        var gx = new float[x.Length];
        var y = new float[x.Length];
        var shift = Tensor.Normal(new Rng(24), 0f, 1f, c).Data;
        using (Cpu.Force(path))
        {
            BatchNormKernels.Statistics(x, n, c, s, mean, variance);
            for (int ch = 0; ch < c; ch++) invStd[ch] = 1f / MathF.Sqrt(variance[ch] + 1e-5f);
            BatchNormKernels.GradientSums(gy, x, n, c, s, mean, sumG, sumGCentered);
            BatchNormKernels.TrainingInputGradient(gy, x, gx, n, c, s, mean, invStd, gamma, sumG, sumGCentered);
            BatchNormKernels.Affine(x, y, n, c, s, gamma, shift);
        }
        for (int ch = 0; ch < c; ch++)
        {
            var at = Channel(n, c, s, ch).ToArray();
            double m = at.Average(i => (double)x[i]);
            double v = at.Average(i => (x[i] - m) * (x[i] - m));
            Assert.Equal(m, mean[ch], 4);
            Assert.Equal(v, variance[ch], 4);
            double g = at.Sum(i => (double)gy[i]), gc = at.Sum(i => gy[i] * (x[i] - m));
            Assert.Equal(g, sumG[ch], 3);
            Assert.Equal(gc, sumGCentered[ch], 3);
            double sigma = Math.Sqrt(v + 1e-5), meanGHat = at.Average(i => gy[i] * (x[i] - m) / sigma);
            foreach (int i in at)
            {
                double expected = gamma[ch] / sigma * (gy[i] - g / at.Length - (x[i] - m) / sigma * meanGHat);
                Assert.Equal(expected, gx[i], 4);
                Assert.Equal(x[i] * gamma[ch] + shift[ch], y[i]);
            }
        }
    }

    [Fact]
    public void ThreadsDoNotChangeAnyBit()
    {
        int n = 64, c = 6, s = 28 * 28;
        var x = Tensor.Normal(new Rng(25), 1f, 3f, n * c * s).Data;
        var gy = Tensor.Normal(new Rng(26), 0f, 1f, n * c * s).Data;
        float[] Run(int threads)
        {
            int? saved = Cpu.ThreadsOnThisThread;
            Cpu.ThreadsOnThisThread = threads;
            try
            {
                float[] mean = new float[c], variance = new float[c], sumG = new float[c], sumGCentered = new float[c];
                var gx = new float[x.Length];
                var y = new float[x.Length];
                BatchNormKernels.Statistics(x, n, c, s, mean, variance);
                var invStd = variance.Select(v => 1f / MathF.Sqrt(v + 1e-5f)).ToArray();
                BatchNormKernels.GradientSums(gy, x, n, c, s, mean, sumG, sumGCentered);
                BatchNormKernels.TrainingInputGradient(gy, x, gx, n, c, s, mean, invStd, null, sumG, sumGCentered);
                BatchNormKernels.Affine(x, y, n, c, s, invStd, mean);
                return [.. mean, .. variance, .. sumG, .. sumGCentered, .. gx, .. y];
            }
            finally { Cpu.ThreadsOnThisThread = saved; }
        }
        Assert.Equal(Run(1).Select(BitConverter.SingleToInt32Bits), Run(2).Select(BitConverter.SingleToInt32Bits));
    }
}
