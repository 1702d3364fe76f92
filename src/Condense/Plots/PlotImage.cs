// A rendered chart, twice: PNG (what the HTML report embeds as a data: URI and what any viewer shows) and SVG
// (vector, for zooming and for papers). Saved beside each other as NAME.png and NAME.svg, each atomically.
namespace Condense.Plots;

/// <summary>One chart as PNG bytes and SVG text.</summary>
/// <param name="Name">The file name without extension (letters, digits, '-', '_', '.').</param>
/// <param name="Title">What the chart shows, as its caption in a report.</param>
/// <param name="Png">The PNG image.</param>
/// <param name="Svg">The same chart as an SVG document.</param>
public sealed record PlotImage(string Name, string Title, byte[] Png, string Svg)
{
    /// <summary>The PNG as a data: URI, for an &lt;img&gt; that needs no file beside the page.</summary>
    public string PngDataUri => "data:image/png;base64," + Convert.ToBase64String(Png);

    /// <summary>Writes NAME.png and NAME.svg into <paramref name="folder"/> (which must exist); returns the two paths.</summary>
    public IReadOnlyList<string> Save(string folder)
    {
        string png = Path.Combine(folder, Name + ".png"), svg = Path.Combine(folder, Name + ".svg");
        AtomicFile.Write(png, s => s.Write(Png));
        AtomicFile.WriteText(svg, Svg);
        return [png, svg];
    }
}
