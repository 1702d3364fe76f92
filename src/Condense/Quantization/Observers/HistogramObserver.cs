// The base of the observers that choose a clipping range from a histogram of everything seen
// (percentile, entropy, MSE). The histogram is streaming and bounded (StreamingHistogram).
namespace Condense.Quantization.Observers;

/// <summary>An observer that keeps a <see cref="StreamingHistogram"/> of the values it sees.</summary>
public abstract class HistogramObserver : Observer
{
    /// <summary>Creates the observer with a histogram of <paramref name="bins"/> bins.</summary>
    protected HistogramObserver(int bins) => Histogram = new StreamingHistogram(bins);

    /// <summary>The histogram of every finite value seen.</summary>
    public StreamingHistogram Histogram { get; }

    /// <inheritdoc />
    public override bool HasObservations => Histogram.Total > 0;

    /// <inheritdoc />
    public override void Observe(ReadOnlySpan<float> batch) => Histogram.Add(batch);

    /// <inheritdoc />
    public override void Reset() => Histogram.Clear();

    /// <summary>[max(−t, min), min(t, max)]: a symmetric clipping threshold applied to the data's range.</summary>
    protected (float Min, float Max) ClipAt(double threshold) =>
        ((float)Math.Max(-threshold, Histogram.DataMin), (float)Math.Min(threshold, Histogram.DataMax));
}

/// <summary>
/// Clips the most extreme values: asymmetric ranges cut (100 − p)/2 % of the values from each tail;
/// symmetric ranges keep the smallest [−t, t] holding p % of the values (ONNX Runtime's percentile calibrator).
/// </summary>
public sealed class PercentileObserver : HistogramObserver
{
    /// <summary>Creates the observer keeping <paramref name="percentile"/> % of the values (e.g. 99.99).</summary>
    public PercentileObserver(double percentile = 99.99, int bins = 2048) : base(bins)
    {
        if (!(percentile > 0 && percentile <= 100)) throw new CondenseException($"percentile must be in (0, 100], got {percentile}");
        Percentile = percentile;
    }

    /// <summary>The percentage of values kept inside the range.</summary>
    public double Percentile { get; }

    /// <inheritdoc />
    public override (float Min, float Max) ClipRange(QuantRange range, bool symmetric)
    {
        var h = Histogram;
        double keep = Percentile / 100;
        if (!symmetric)
        {
            double tail = (1 - keep) / 2 * h.Total;
            return ((float)h.Quantile(tail), (float)h.Quantile(h.Total - tail));
        }
        // Bisection on t: the mass inside [−t, t] grows with t.
        double lo = 0, hi = Math.Max(Math.Abs((double)h.DataMin), Math.Abs((double)h.DataMax));
        for (int i = 0; i < 60; i++)
        {
            double mid = (lo + hi) / 2;
            if (h.MassWithin(-mid, mid) >= keep * h.Total) hi = mid; else lo = mid;
        }
        return ClipAt(hi);
    }
}
