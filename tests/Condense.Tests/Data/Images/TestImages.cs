// Small images made in the tests with ImageSharp: pixels from a function of (x, y), saved in any format.
using Condense.Data.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Tests.Data.Images;

public static class TestImages
{
    /// <summary>A width × height RGB image with pixel(x, y) = <paramref name="pixel"/>(x, y).</summary>
    public static Image<Rgb24> Rgb(int width, int height, Func<int, int, Rgb24> pixel)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = pixel(x, y);
        return image;
    }

    /// <summary>Saves <paramref name="image"/> to <paramref name="path"/> with <paramref name="encoder"/> (PNG by default).</summary>
    public static string Save(Image image, string path, IImageEncoder? encoder = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        image.Save(path, encoder ?? new PngEncoder());
        return path;
    }

    /// <summary>An RGB PNG of the given size and one colour.</summary>
    public static string SolidPng(string path, int width = 4, int height = 4, byte r = 10, byte g = 20, byte b = 30)
    {
        using var image = Rgb(width, height, (_, _) => new Rgb24(r, g, b));
        return Save(image, path);
    }

    /// <summary>No resize, no crop, pixels as bytes (0–255), no mean or std: the decoded bytes themselves.</summary>
    public static ImagePreprocessing Raw(int width, int height, ImageChannels channels = ImageChannels.Rgb,
        ImageLayout layout = ImageLayout.Nchw) =>
        new() { Height = height, Width = width, PixelScale = 255f, Channels = channels, Layout = layout };
}
