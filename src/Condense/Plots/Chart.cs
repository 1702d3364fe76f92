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

    /// <summary>The i-th colour of the chart palette (Category10), repeating.</summary>
    internal static Color Color(int i) => new ScottPlot.Palettes.Category10().GetColor(i);
}
