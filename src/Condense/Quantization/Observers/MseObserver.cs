// MSE-optimal calibration: the clipping range that minimises the expected quantization error of the
// observed distribution, trading rounding noise inside the range against clipping error outside it
// (the criterion of PyTorch's HistogramObserver, which searches greedily; here a grid search).
// Candidates: the data's range shrunk by factors f = j/N (both ends together), then, for asymmetric
// ranges, each end alone on the same grid with the other fixed. The error of a candidate is
// StreamingHistogram.ExpectedQuantizationMse of the parameters it yields, so it accounts for the
// actual grid (zero point rounding, the 0 inclusion, the integer range).
namespace Condense.Quantization.Observers;

/// <summary>Chooses the clipping range with the least expected quantization mean squared error.</summary>
public sealed class MseObserver : HistogramObserver
{
    private const int Steps = 256;

    /// <summary>Creates the observer with a histogram of <paramref name="bins"/> bins.</summary>
    public MseObserver(int bins = 2048) : base(bins) { }

    /// <inheritdoc />
    public override (float Min, float Max) ClipRange(QuantRange range, bool symmetric)
    {
        var h = Histogram;
        float min = h.DataMin, max = h.DataMax;
        double Error(float a, float b) => h.ExpectedQuantizationMse(QuantParams.FromMinMax(a, b, range, symmetric));
        var best = (Min: min, Max: max);
        double bestError = Error(min, max);
        void Try(float a, float b)
        {
            double e = Error(a, b);
            if (e < bestError) { bestError = e; best = (a, b); }
        }
        for (int j = 1; j < Steps; j++) Try(min * j / Steps, max * j / Steps);
        if (!symmetric)
        {
            float b0 = best.Max;
            for (int j = 1; j < Steps; j++) Try(min * j / Steps, b0);
            var a1 = best.Min;
            for (int j = 1; j < Steps; j++) Try(a1, max * j / Steps);
        }
        return best;
    }
}
