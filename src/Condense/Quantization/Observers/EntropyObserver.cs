// Entropy calibration, as TensorRT's and ONNX Runtime's entropy calibrators: choose the clipping
// threshold t whose quantized distribution loses the least information, measured by KL(P ‖ Q)
// (Migacz, "8-bit Inference with TensorRT", NVIDIA GTC 2017). On a histogram of |x| (2048 bins of
// width W) and for each i from 128 to 2048 bins kept:
//   P = bins[0..i), with the outliers bins[i..] added to its last bin;
//   Q = bins[0..i) merged into 128 groups, each group's count spread evenly over its non-empty bins
//       (non-empty in P, as MXNet's _get_optimal_threshold), empty Q bins where P is not get 1e-4;
//   KL(P ‖ Q) of the normalised P and Q.
// t = i·W for the best i (the edge P saturates at, as MXNet and ONNX Runtime; the slides say (i + ½)·W).
namespace Condense.Quantization.Observers;

/// <summary>Chooses a symmetric clipping threshold by minimising the KL divergence (TensorRT's entropy calibration).</summary>
public sealed class EntropyObserver : HistogramObserver
{
    /// <summary>Creates the observer: <paramref name="bins"/> histogram bins, candidates quantized to <paramref name="quantizedBins"/> levels.</summary>
    public EntropyObserver(int bins = 2048, int quantizedBins = 128) : base(bins)
    {
        if (quantizedBins < 2) throw new CondenseException($"quantized bins must be at least 2, got {quantizedBins}");
        QuantizedBins = quantizedBins;
    }

    /// <summary>The levels each candidate distribution is quantized to (TensorRT: 128).</summary>
    public int QuantizedBins { get; }

    /// <summary>The threshold t chosen for the values seen (the range is [−t, t] cut to the data's).</summary>
    public double Threshold()
    {
        var (abs, width) = AbsoluteHistogram();
        if (width == 0) return 0;
        int n = abs.Length, levels = QuantizedBins;
        if (n <= levels) return n * width;
        var p = new double[n];
        var q = new double[n];
        double bestKl = double.PositiveInfinity;
        int best = n;
        double outliers = 0;
        for (int j = levels; j < n; j++) outliers += abs[j];
        for (int i = levels; i <= n; i++)
        {
            if (i > levels) outliers -= abs[i - 1];
            Array.Copy(abs, p, i);
            p[i - 1] += outliers;
            int merged = i / levels;
            for (int g = 0; g < levels; g++)
            {
                int start = g * merged, stop = g == levels - 1 ? i : start + merged;
                double sum = 0;
                int nonEmpty = 0;
                for (int j = start; j < stop; j++) { sum += abs[j]; if (p[j] != 0) nonEmpty++; }
                for (int j = start; j < stop; j++) q[j] = p[j] != 0 ? sum / nonEmpty : 0;
            }
            double kl = Kl(p, q, i);
            if (kl < bestKl) { bestKl = kl; best = i; }
        }
        return best * width;
    }

    /// <inheritdoc />
    public override (float Min, float Max) ClipRange(QuantRange range, bool symmetric) => ClipAt(Threshold());

    // KL(P ‖ Q) over the first n bins, both normalised; Q's empty bins under a non-empty P count 1e-4.
    private static double Kl(double[] p, double[] q, int n)
    {
        double sp = 0, sq = 0;
        for (int j = 0; j < n; j++)
        {
            if (p[j] > 0 && q[j] == 0) q[j] = 1e-4;
            sp += p[j];
            sq += q[j];
        }
        if (sp == 0 || sq == 0) return double.PositiveInfinity;
        double kl = 0;
        for (int j = 0; j < n; j++)
            if (p[j] > 0) kl += p[j] / sp * Math.Log(p[j] / sp / (q[j] / sq));
        return kl;
    }

    // The histogram of |x| over [0, max |x|] with as many bins as the signed one, counts spread uniformly.
    private (double[] Counts, double Width) AbsoluteHistogram()
    {
        var h = Histogram;
        double top = Math.Max(Math.Abs(h.Lower), Math.Abs(h.Upper));
        var abs = new double[h.Bins];
        if (top == 0) return (abs, 0);
        double width = top / h.Bins;
        var counts = h.Counts;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0) continue;
            double e0 = h.Lower + i * h.BinWidth, e1 = e0 + h.BinWidth;
            if (e0 >= 0) Spread(abs, width, e0, e1, counts[i]);
            else if (e1 <= 0) Spread(abs, width, -e1, -e0, counts[i]);
            else
            {
                double share = -e0 / (e1 - e0);
                Spread(abs, width, 0, -e0, counts[i] * share);
                Spread(abs, width, 0, e1, counts[i] * (1 - share));
            }
        }
        return (abs, width);
    }

    // Adds mass spread uniformly over [a, b] into bins of the given width starting at 0.
    private static void Spread(double[] bins, double width, double a, double b, double mass)
    {
        int first = (int)Math.Clamp(Math.Floor(a / width), 0, bins.Length - 1);
        int last = (int)Math.Clamp(Math.Floor(b / width), 0, bins.Length - 1);
        if (first == last || b <= a) { bins[first] += mass; return; }
        for (int j = first; j <= last; j++)
        {
            double overlap = Math.Min(b, (j + 1) * width) - Math.Max(a, j * width);
            if (overlap > 0) bins[j] += mass * overlap / (b - a);
        }
    }
}
