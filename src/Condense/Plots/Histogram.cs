// Weight histograms: the counts (kept as data, so tests check what a chart shows rather than its pixels) and the
// chart. Pruned weights are exactly zero; a histogram that skips them shows the hole magnitude pruning leaves around
// zero (Han et al. 2015, figure 5), and says how many it left out. Integer codes get one bin per level.
using ScottPlot;

namespace Condense.Plots;

/// <summary>Counts of values in equal bins over [Min, Max].</summary>
/// <param name="Min">The left edge of the first bin.</param>
/// <param name="Max">The right edge of the last bin.</param>
/// <param name="Counts">How many values fall in each bin.</param>
/// <param name="Zeros">Values exactly zero left out of the counts (0 when zeros were counted).</param>
public sealed record HistogramData(double Min, double Max, IReadOnlyList<long> Counts, long Zeros)
{
    /// <summary>The width of one bin.</summary>
    public double BinWidth => (Max - Min) / Counts.Count;

    /// <summary>The values counted (zeros left out are not).</summary>
    public long Total => Counts.Sum();

    /// <summary>The centre of bin <paramref name="i"/>.</summary>
    public double Center(int i) => Min + (i + 0.5) * BinWidth;

    /// <summary>The share of the counted values in bins whose centre lies within <paramref name="radius"/> of zero.</summary>
    public double FractionNearZero(double radius)
    {
        long near = 0;
        for (int i = 0; i < Counts.Count; i++) if (Math.Abs(Center(i)) < radius) near += Counts[i];
        return Total == 0 ? 0 : (double)near / Total;
    }

    /// <summary>
    /// Counts <paramref name="values"/> in <paramref name="bins"/> equal bins over [<paramref name="min"/>, <paramref name="max"/>]
    /// (values outside go to the end bins); exact zeros are left out and counted in <see cref="Zeros"/> when <paramref name="skipZeros"/>.
    /// </summary>
    public static HistogramData Of(ReadOnlySpan<float> values, int bins, double min, double max, bool skipZeros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (!(max > min)) throw new ArgumentException($"a histogram needs max > min, got [{min}, {max}]");
        var counts = new long[bins];
        long zeros = 0;
        double scale = bins / (max - min);
        foreach (float v in values)
        {
            if (skipZeros && v == 0) { zeros++; continue; }
            if (!float.IsFinite(v)) continue;
            counts[Math.Clamp((int)Math.Floor((v - min) * scale), 0, bins - 1)]++;
        }
        return new HistogramData(min, max, counts, zeros);
    }

    /// <summary>
    /// The histogram of a layer: float weights in <paramref name="bins"/> bins over ±<paramref name="range"/> (default: the
    /// largest |w|), zeros left out; integer codes in one bin per level between the smallest and largest code (code 0 left
    /// out when it holds most of them: a pruned layer).
    /// </summary>
    public static HistogramData Of(LayerWeights weights, int bins = 120, double? range = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Codes is not null)
        {
            float lo = weights.Values.DefaultIfEmpty().Min(), hi = weights.Values.DefaultIfEmpty().Max();
            // A layer pruned before quantization is mostly code 0: left out as pruned zeros are, so the levels show.
            bool pruned = weights.Values.Count(v => v == 0) > weights.Values.Length / 2;
            return Of(weights.Values, (int)(hi - lo) + 1, lo - 0.5, hi + 0.5, skipZeros: pruned);
        }
        double r = range ?? weights.Values.Select(v => Math.Abs((double)v)).DefaultIfEmpty().Max();
        return Of(weights.Values, bins, -Math.Max(r, 1e-12), Math.Max(r, 1e-12), skipZeros: true);
    }
}

/// <summary>Histogram charts.</summary>
public static class Histograms
{
    /// <summary>
    /// One or more histograms overlaid (translucent bars, each as a share of its own counted values, so a pruned layer
    /// compares with its dense original); a legend entry says how many exact zeros a histogram left out.
    /// </summary>
    public static PlotImage Plot(string name, string title, string xLabel, IReadOnlyList<(string Label, HistogramData Data)> histograms)
    {
        ArgumentNullException.ThrowIfNull(histograms);
        var plot = Chart.New(title, xLabel, "share of the weights shown (%)");
        for (int h = 0; h < histograms.Count; h++)
        {
            var (label, data) = histograms[h];
            double total = Math.Max(1, data.Total);
            var color = Chart.Color(h);
            var bars = plot.Add.Bars(Enumerable.Range(0, data.Counts.Count).Select(i => new Bar
            {
                Position = data.Center(i), Value = 100.0 * data.Counts[i] / total, Size = data.BinWidth,
                FillColor = color.WithAlpha(0.55), LineWidth = 0,
            }).ToList());
            long all = data.Total + data.Zeros;
            bars.LegendText = data.Zeros > 0 ? $"{label} ({100.0 * data.Zeros / all:F1} % exactly zero, not shown)" : label;
        }
        if (histograms.Count > 0) plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(bottom: 0);
        return Chart.Render(plot, name, title);
    }
}
