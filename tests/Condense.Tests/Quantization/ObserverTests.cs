using Condense.Quantization;
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class ObserverTests
{
    private static float[] Normal(ulong seed, int n, float std = 1f) => Tensor.Normal(new Rng(seed), 0f, std, n).Data;

    // Laplace(0, 1) by inverse CDF: heavy tails compared with a normal.
    private static float[] Laplace(ulong seed, int n)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble() - 0.5;
            x[i] = (float)(-Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u)));
        }
        return x;
    }

    private static double ActualMse(float[] x, QuantParams p) => AffineQuantizer.Error(new Tensor(x, x.Length), p).Mse;

    [Fact]
    public void MinMaxOnUniformIsExact()
    {
        var x = Tensor.Uniform(new Rng(1), -2f, 3f, 1000).Data;
        var observer = new MinMaxObserver();
        observer.Observe(x);
        Assert.Equal(x.Min(), observer.Min);
        Assert.Equal(x.Max(), observer.Max);
        Assert.Equal(QuantParams.FromMinMax(x.Min(), x.Max(), QuantRange.UInt8, false), observer.Compute(QuantRange.UInt8, false));
    }

    [Fact]
    public void NothingObservedGivesPyTorchsDefaultAndNonFiniteIsIgnored()
    {
        foreach (CalibrationMethod method in Enum.GetValues<CalibrationMethod>())
        {
            var observer = Observer.Create(method);
            Assert.False(observer.HasObservations);
            Assert.Equal(new QuantParams(1f, 0, QuantRange.Int8), observer.Compute(QuantRange.Int8, true));
            observer.Observe([float.NaN, float.PositiveInfinity]);
            Assert.False(observer.HasObservations);
            observer.Observe([-1f, float.NegativeInfinity, 2f]);
            var (min, max) = observer.ClipRange(QuantRange.UInt8, false);
            Assert.True(min >= -1f && max <= 2f && float.IsFinite(min) && float.IsFinite(max), method.ToString());
        }
    }

    [Fact]
    public void FactoryBuildsEachMethod()
    {
        Assert.IsType<MinMaxObserver>(Observer.Create(CalibrationMethod.MinMax));
        Assert.IsType<MovingAverageMinMaxObserver>(Observer.Create(CalibrationMethod.MovingAverage));
        Assert.IsType<PercentileObserver>(Observer.Create(CalibrationMethod.Percentile));
        Assert.IsType<EntropyObserver>(Observer.Create(CalibrationMethod.Entropy));
        Assert.IsType<MseObserver>(Observer.Create(CalibrationMethod.Mse));
        var options = new ObserverOptions { Bins = 512, Percentile = 99.9 };
        var percentile = (PercentileObserver)Observer.Create(CalibrationMethod.Percentile, options);
        Assert.Equal(512, percentile.Histogram.Bins);
        Assert.Equal(99.9, percentile.Percentile);
        Assert.Throws<CondenseException>(() => Observer.Create(CalibrationMethod.Percentile, new ObserverOptions { Percentile = 0 }));
    }

    [Fact]
    public void MovingAverageFollowsPyTorchsFormula()
    {
        var observer = new MovingAverageMinMaxObserver(0.01f);
        float[][] batches = [[-1f, 2f], [-3f, 5f], [0.5f, 0.7f], [-10f, 1f]];
        float min = float.NaN, max = float.NaN;
        foreach (var b in batches)
        {
            observer.Observe(b);
            if (float.IsNaN(min)) (min, max) = (b.Min(), b.Max());
            else
            {
                min = min + 0.01f * (b.Min() - min);
                max = max + 0.01f * (b.Max() - max);
            }
            Assert.Equal(min, observer.Min);
            Assert.Equal(max, observer.Max);
        }
        Assert.Equal(-1.0948f, observer.Min, 4); // −1 → −1.02 → −1.0048 → −1.0948
    }

    [Fact]
    public void OutlierIsClippedByPercentileAndEntropyButNotMinMax()
    {
        var x = Normal(2, 20000);
        x[123] = 100f;
        var minMax = new MinMaxObserver();
        var percentile = new PercentileObserver(99.99);
        var entropy = new EntropyObserver();
        foreach (var o in new Observer[] { minMax, percentile, entropy }) o.Observe(x);
        Assert.Equal(100f, minMax.ClipRange(QuantRange.Int8, true).Max);
        foreach (bool symmetric in new[] { true, false })
        {
            Assert.InRange(percentile.ClipRange(QuantRange.Int8, symmetric).Max, 3f, 6f);
            Assert.InRange(entropy.ClipRange(QuantRange.Int8, symmetric).Max, 2f, 20f);
        }
        // Clipping one outlier buys a much finer grid for everything else.
        var p = percentile.Compute(QuantRange.Int8, true);
        var m = minMax.Compute(QuantRange.Int8, true);
        Assert.True(p.Scale < m.Scale / 10);
        Assert.True(entropy.Compute(QuantRange.Int8, true).Scale < m.Scale / 4);
    }

    [Fact]
    public void EntropyKeepsTheWholeRangeOfAUniformDistribution()
    {
        var entropy = new EntropyObserver();
        entropy.Observe(Tensor.Uniform(new Rng(4), -1f, 1f, 50000).Data);
        Assert.InRange(entropy.Threshold(), 0.9, 1.001);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void MseSearchBeatsMinMaxOnHeavyTails(int bits)
    {
        var x = Laplace(5, 50000);
        var mse = new MseObserver();
        var minMax = new MinMaxObserver();
        mse.Observe(x);
        minMax.Observe(x);
        foreach (var (range, symmetric) in new[] { (QuantRange.Restricted(bits), true), (QuantRange.Unsigned(bits), false) })
        {
            var pm = mse.Compute(range, symmetric);
            var pmm = minMax.Compute(range, symmetric);
            double errMse = ActualMse(x, pm), errMinMax = ActualMse(x, pmm);
            Assert.True(errMse < (bits == 8 ? 0.9 : 0.6) * errMinMax, $"{bits} bits: MSE search {errMse}, min-max {errMinMax}");
            // The histogram's prediction agrees with the measured error.
            Assert.Equal(errMse, mse.Histogram.ExpectedQuantizationMse(pm), errMse * 0.1);
        }
    }

    [Fact]
    public void StreamingEqualsOneBatchWhenTheRangeDoesNotGrow()
    {
        var x = Normal(6, 10000);
        // Put the global extremes in the first batch so later batches never widen the range.
        int iMin = Array.IndexOf(x, x.Min()), iMax = Array.IndexOf(x, x.Max());
        (x[0], x[iMin]) = (x[iMin], x[0]);
        iMax = Array.IndexOf(x, x.Max());
        (x[1], x[iMax]) = (x[iMax], x[1]);
        foreach (CalibrationMethod method in new[] { CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy, CalibrationMethod.Mse })
        {
            var whole = Observer.Create(method);
            var streamed = Observer.Create(method);
            whole.Observe(x);
            foreach (int start in new[] { 0, 31, 1000, 4097 })
            {
                int end = start switch { 0 => 31, 31 => 1000, 1000 => 4097, _ => x.Length };
                streamed.Observe(x.AsSpan(start, end - start));
            }
            if (whole is HistogramObserver h)
                Assert.Equal(h.Histogram.Counts.ToArray(), ((HistogramObserver)streamed).Histogram.Counts.ToArray());
            foreach (var (range, symmetric) in new[] { (QuantRange.Int8, true), (QuantRange.UInt8, false) })
                Assert.Equal(whole.Compute(range, symmetric), streamed.Compute(range, symmetric));
        }
    }

    [Fact]
    public void HistogramGrowsWithoutSplittingCountsAndStaysTheSameSize()
    {
        var h = new StreamingHistogram(64);
        var rng = new Rng(7);
        double total = 0;
        for (int b = 0; b < 200; b++)
        {
            float spread = 0.5f + b * 0.37f;
            var batch = Tensor.Uniform(rng, -spread * (b % 3 == 0 ? 2 : 1), spread, 33).Data;
            h.Add(batch);
            total += batch.Length;
            Assert.Equal(64, h.Counts.Length);
            Assert.Equal(total, h.Total);
            Assert.True(h.Lower <= batch.Min() && h.Upper >= batch.Max());
            foreach (double c in h.Counts) Assert.Equal(Math.Round(c), c); // counts stay whole numbers
        }
    }

    [Fact]
    public void HistogramGrowthPutsOldCountsInTheBinsThatContainThem()
    {
        var h = new StreamingHistogram(8);
        h.Add([0f, 0.5f, 1.5f, 7.9f, 8f]); // bins of width 1 over [0, 8]
        Assert.Equal(new double[] { 2, 1, 0, 0, 0, 0, 0, 2 }, h.Counts.ToArray());
        h.Add([-3.5f]); // m = 4 old bins below, span 12 → k = 2: width 2 over [−4, 12]
        Assert.Equal(-4, h.Lower);
        Assert.Equal(2, h.BinWidth);
        Assert.Equal(new double[] { 1, 0, 3, 0, 0, 2, 0, 0 }, h.Counts.ToArray());
        // A constant first batch (zero width) widens on the next one.
        var c = new StreamingHistogram(4);
        c.Add([2f, 2f]);
        c.Add([0f, 4f]);
        Assert.Equal(new double[] { 1, 0, 2, 1 }, c.Counts.ToArray());
    }

    [Fact]
    public void PercentileOfAUniformDistribution()
    {
        var p = new PercentileObserver(99);
        p.Observe(Tensor.Uniform(new Rng(8), 0f, 10f, 100000).Data);
        var (lo, hi) = p.ClipRange(QuantRange.UInt8, false);
        Assert.Equal(0.05, lo, 0.02);
        Assert.Equal(9.95, hi, 0.02);
        var (slo, shi) = p.ClipRange(QuantRange.Int8, true);
        Assert.InRange(slo, 0f, 1e-3f); // the data's own minimum: symmetric clipping never widens the data's range
        Assert.Equal(9.9, shi, 0.02);
    }
}
