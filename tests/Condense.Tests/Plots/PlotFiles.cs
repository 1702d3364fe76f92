// What a plot file must be, whoever wrote it: a real PNG (its 8-byte signature, more than a blank frame's bytes)
// and an SVG that parses as XML with an <svg> root.
using System.Xml;

namespace Condense.Tests.Plots;

public static class PlotFiles
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Fewer bytes than this is an empty chart: axes with nothing drawn compress to a few KiB.</summary>
    public const int MinimumBytes = 4000;

    public static void AssertPng(byte[] png, string what)
    {
        Assert.True(png.Length > MinimumBytes, $"{what}: {png.Length} bytes");
        Assert.True(png.AsSpan(0, 8).SequenceEqual(PngSignature), $"{what}: not a PNG");
    }

    public static void AssertSvg(string svg, string what)
    {
        Assert.True(svg.Length > MinimumBytes, $"{what}: {svg.Length} characters");
        var doc = new XmlDocument { XmlResolver = null };
        doc.LoadXml(svg);
        Assert.Equal("svg", doc.DocumentElement!.LocalName);
    }

    /// <summary>Checks NAME.png and NAME.svg in <paramref name="folder"/> for each name.</summary>
    public static void AssertSaved(string folder, params string[] names)
    {
        foreach (var name in names)
        {
            AssertPng(File.ReadAllBytes(Path.Combine(folder, name + ".png")), name);
            AssertSvg(File.ReadAllText(Path.Combine(folder, name + ".svg")), name);
        }
    }
}
