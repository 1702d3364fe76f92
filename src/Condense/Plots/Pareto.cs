// The variants of a run on size × latency × accuracy. A variant is dominated when another is no larger, no slower and
// no less accurate, and strictly better in one of the three; the others form the Pareto front, the only variants worth
// choosing between. The chart puts size (log scale) against accuracy, writes each variant's latency beside it, and
// fills the markers of the front (with three criteria the front is a set, not a line to draw).
using ScottPlot;

namespace Condense.Plots;

/// <summary>One variant: smaller and faster are better, more accurate is better.</summary>
public sealed record ParetoPoint(string Name, double SizeBytes, double LatencyMs, double Accuracy);

/// <summary>The Pareto front of variants and its chart.</summary>
public static class ParetoFront
{
    /// <summary>Whether <paramref name="a"/> dominates <paramref name="b"/>: no worse in all three, strictly better in one.</summary>
    public static bool Dominates(ParetoPoint a, ParetoPoint b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        bool noWorse = a.SizeBytes <= b.SizeBytes && a.LatencyMs <= b.LatencyMs && a.Accuracy >= b.Accuracy;
        bool better = a.SizeBytes < b.SizeBytes || a.LatencyMs < b.LatencyMs || a.Accuracy > b.Accuracy;
        return noWorse && better;
    }

    /// <summary>For each point, whether no other point dominates it (sorted by size, then checked against the smaller ones).</summary>
    public static bool[] NonDominated(IReadOnlyList<ParetoPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        // Only a point no larger can dominate: walking by size, each point is compared with the front so far and the
        // points of its own size (a dominated point's dominator dominates whatever it dominates, so the front suffices).
        var order = Enumerable.Range(0, points.Count).OrderBy(i => points[i].SizeBytes).ToArray();
        var front = new bool[points.Count];
        var kept = new List<int>();
        for (int k = 0; k < order.Length; k++)
        {
            var p = points[order[k]];
            bool dominated = kept.Any(j => Dominates(points[j], p));
            for (int m = k + 1; !dominated && m < order.Length && points[order[m]].SizeBytes == p.SizeBytes; m++)
                dominated = Dominates(points[order[m]], p);
            if (dominated) continue;
            front[order[k]] = true;
            kept.Add(order[k]);
        }
        return front;
    }

    /// <summary>Size (log scale) against accuracy in %, latency written beside each variant, the front's markers filled.</summary>
    public static PlotImage Plot(string name, string title, IReadOnlyList<ParetoPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        bool[] front = NonDominated(points);
        var plot = Chart.New(title, "size on disk (KiB, log scale)", "accuracy (%)");
        var frontColor = Chart.Color(3);
        var otherColor = Colors.Gray;
        double[] xs = points.Select(p => Math.Log10(Math.Max(p.SizeBytes, 1) / 1024.0)).ToArray();
        double[] ys = points.Select(p => 100 * p.Accuracy).ToArray();
        bool[] below = LabelsBelow(xs, ys);
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            double x = xs[i], y = ys[i];
            var marker = plot.Add.Marker(x, y, front[i] ? MarkerShape.FilledCircle : MarkerShape.OpenCircle, 11, front[i] ? frontColor : otherColor);
            marker.LegendText = "";
            var text = plot.Add.Text($"{p.Name} ({FormatLatency(p.LatencyMs)})", x, y);
            text.LabelFontSize = 12;
            text.LabelFontColor = front[i] ? Colors.Black : Colors.DimGray;
            text.LabelOffsetX = 8;
            text.LabelOffsetY = below[i] ? 8 : -8;
        }
        // Two invisible markers carry the legend: filled for the front, open for the rest.
        var frontKey = plot.Add.Marker(double.NaN, double.NaN, MarkerShape.FilledCircle, 11, frontColor);
        frontKey.LegendText = "not dominated (Pareto front)";
        var otherKey = plot.Add.Marker(double.NaN, double.NaN, MarkerShape.OpenCircle, 11, otherColor);
        otherKey.LegendText = "dominated: another variant is no larger, no slower and no less accurate";
        plot.ShowLegend(Alignment.LowerRight);
        var logs = points.Select(p => Math.Log10(Math.Max(p.SizeBytes, 1) / 1024.0)).DefaultIfEmpty(0).ToList();
        Chart.LogTicks(plot.Axes.Bottom, logs.Min(), logs.Max());
        plot.Axes.Margins(left: 0.08, right: 0.3, bottom: 0.15, top: 0.1);
        return Chart.Render(plot, name, title);
    }

    // Labels sit above right of their marker; one that would overlap a label already placed (within a label's rough
    // extent: a fifth of the width, a twentieth of the height) moves below. Placed from the top down.
    private static bool[] LabelsBelow(double[] xs, double[] ys)
    {
        double width = Math.Max(1e-9, xs.DefaultIfEmpty(0).Max() - xs.DefaultIfEmpty(0).Min());
        double height = Math.Max(1e-9, ys.DefaultIfEmpty(0).Max() - ys.DefaultIfEmpty(0).Min());
        var below = new bool[xs.Length];
        var placed = new List<(double X, double Y)>();
        foreach (int i in Enumerable.Range(0, xs.Length).OrderByDescending(i => ys[i]))
        {
            bool Clashes(double y) => placed.Any(q => Math.Abs(q.X - xs[i]) / width < 0.2 && Math.Abs(q.Y - y) / height < 0.05);
            double up = ys[i] + 0.02 * height, down = ys[i] - 0.03 * height;
            below[i] = Clashes(up) && !Clashes(down);
            placed.Add((xs[i], below[i] ? down : up));
        }
        return below;
    }

    private static string FormatLatency(double ms) => ms < 1
        ? FormattableString.Invariant($"{ms * 1000:F0} µs")
        : FormattableString.Invariant($"{ms:F1} ms");
}
