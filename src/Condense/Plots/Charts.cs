// The general charts every report draws from plain numbers: lines over a shared x axis (accuracy against sparsity,
// one line per layer or one sweep of runs) and one horizontal bar per layer (sensitivity, SQNR, sparsity). Values
// come in the units the axis shows (a caller plotting accuracy in % passes percentages).
using ScottPlot;

namespace Condense.Plots;

/// <summary>One line of a line chart.</summary>
/// <param name="Label">The legend entry.</param>
/// <param name="X">The x values, ascending.</param>
/// <param name="Y">The y values, one per x.</param>
public sealed record LineSeries(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    /// <summary>
    /// Drawn thin with open markers (e.g. a measurement on other data than the line of the same colour). Not dashed: Skia's
    /// SVG canvas cannot write dash effects and says so on the process's stdout.
    /// </summary>
    public bool Secondary { get; init; }

    /// <summary>The palette colour index (default: the series' position in the chart).</summary>
    public int? Color { get; init; }
}

/// <summary>Line and bar charts.</summary>
public static class Charts
{
    /// <summary>Most lines a legend lists; a chart with more lines leaves the legend out (the lines stay).</summary>
    public const int MaxLegendEntries = 12;

    /// <summary>A line chart, one line per series, with markers at the points; <paramref name="integerX"/> puts ticks on whole numbers only.</summary>
    public static PlotImage Lines(string name, string title, string xLabel, string yLabel, IReadOnlyList<LineSeries> series, bool integerX = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = Chart.New(title, xLabel, yLabel);
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"series '{s.Label}' has {s.X.Count} x values and {s.Y.Count} y values");
            var line = plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray(), Chart.Color(s.Color ?? i));
            line.LegendText = s.Label;
            line.LineWidth = s.Secondary ? 1 : 2;
            line.MarkerSize = s.Secondary ? 8 : 6;
            if (s.Secondary) line.MarkerShape = MarkerShape.OpenCircle;
        }
        if (series.Count > 1 && series.Count <= MaxLegendEntries) plot.ShowLegend(Edge.Right);
        if (integerX) Chart.IntegerTicks(plot.Axes.Bottom, series.SelectMany(s => s.X));
        return Chart.Render(plot, name, title);
    }

    /// <summary>
    /// One horizontal bar per (label, value), top to bottom in the order given; the chart grows with the number of bars.
    /// Negative values extend left of zero.
    /// </summary>
    public static PlotImage Bars(string name, string title, string valueLabel, IReadOnlyList<(string Label, double Value)> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var plot = Chart.New(title, valueLabel, "");
        var items = bars.Select((b, i) => new Bar
        {
            Position = bars.Count - 1 - i, Value = b.Value, FillColor = Chart.Color(0), Orientation = Orientation.Horizontal,
            Label = b.Value.ToString("G4", System.Globalization.CultureInfo.InvariantCulture),
        }).ToList();
        var plottable = plot.Add.Bars(items);
        plottable.ValueLabelStyle.FontSize = 11;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            items.Select(b => b.Position).ToArray(), bars.Select(b => Shorten(b.Label, 40)).ToArray());
        plot.Axes.Margins(left: 0.05, right: 0.15, bottom: 0.02, top: 0.02);
        plot.HideGrid();
        int height = Math.Max(Chart.Height / 2, 90 + 24 * bars.Count);
        return Chart.Render(plot, name, title, Chart.Width, height);
    }

    // A long layer name keeps its end, which tells layers apart ("…layer.3.attention.output.dense.weight").
    private static string Shorten(string text, int max) => text.Length <= max ? text : "…" + text[^(max - 1)..];
}
