// What every chart shares: one size, one sans-serif font found once among the fonts Skia sees, the axis labels,
// and rendering to PNG and SVG. ScottPlot (MIT) draws; on a machine without any font the charts still render,
// without text.
using ScottPlot;
using SkiaSharp;

namespace Condense.Plots;

internal static class Chart
{
    internal const int Width = 800, Height = 450;

    // The first of these the machine has; ScottPlot's own choice otherwise.
    private static readonly string? SansFont = FindSansFont();

    private static string? FindSansFont()
    {
        var families = SKFontManager.Default.GetFontFamilies();
        return new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans" }.FirstOrDefault(families.Contains);
    }

    /// <summary>A new plot with the title and axis labels set.</summary>
    internal static Plot New(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        if (SansFont is not null) plot.Font.Set(SansFont);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    /// <summary>Renders <paramref name="plot"/> as PNG and SVG.</summary>
    internal static PlotImage Render(Plot plot, string name, string title, int width = Width, int height = Height)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"a plot name is a file name of letters, digits, '-', '_' and '.': '{name}'", nameof(name));
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        string svg = plot.GetSvgXml(width, height);
        return new PlotImage(name, title, png, svg);
    }

    /// <summary>Ticks on whole numbers only (epochs), at most about ten of them.</summary>
    internal static void IntegerTicks(IAxis axis, IEnumerable<double> values)
    {
        var list = values.ToList();
        if (list.Count == 0) return;
        int lo = (int)Math.Floor(list.Min()), hi = (int)Math.Ceiling(list.Max());
        int step = Math.Max(1, (int)Math.Ceiling((hi - lo + 1) / 10.0));
        var ticks = Enumerable.Range(0, (hi - lo) / step + 1).Select(i => (double)(lo + i * step)).ToArray();
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks,
            ticks.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    /// <summary>Ticks at 1, 2, 5 × 10^k on an axis that holds log10 of the values, labelled with the values.</summary>
    internal static void LogTicks(IAxis axis, double minLog, double maxLog)
    {
        var ticks = new List<double>();
        for (int k = (int)Math.Floor(minLog) - 1; k <= (int)Math.Ceiling(maxLog) + 1; k++)
            foreach (double m in new[] { 1.0, 2.0, 5.0 })
            {
                double t = Math.Log10(m) + k;
                if (t >= minLog - 0.35 && t <= maxLog + 0.35) ticks.Add(t);
            }
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray(),
            ticks.Select(t => Math.Pow(10, t).ToString(Math.Pow(10, t) >= 1 ? "N0" : "G2", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    /// <summary>The i-th colour of the chart palette (Category10), repeating.</summary>
    internal static Color Color(int i) => new ScottPlot.Palettes.Category10().GetColor(i);
}
