// One image → one sample: known pixels through each format, then resize, crop, scaling, mean/std, channel order and
// layout against hand computations.
using Condense.Data.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Tests.Data.Images;

public class ImageDecodingTests
{
    // A 3 × 2 image whose every byte differs: pixel (x, y) = (10x + 60y + 1, … + 2, … + 3).
    private static Image<Rgb24> Distinct() =>
        TestImages.Rgb(3, 2, (x, y) => new Rgb24((byte)(10 * x + 60 * y + 1), (byte)(10 * x + 60 * y + 2), (byte)(10 * x + 60 * y + 3)));

    private static readonly float[] DistinctPlanes =
    [
        1, 11, 21, 61, 71, 81, // red, row by row
        2, 12, 22, 62, 72, 82, // green
        3, 13, 23, 63, 73, 83, // blue
    ];

    [Theory]
    [InlineData("png")]
    [InlineData("bmp")]
    [InlineData("webp")]
    [InlineData("tiff")]
    [InlineData("tif")]
    [InlineData("ppm")]
    [InlineData("tga")]
    public void LosslessFormatsDecodeExactly(string format)
    {
        using var tmp = new TempDir();
        using var image = Distinct();
        string file = TestImages.Save(image, tmp.File("pixels." + format), format switch
        {
            "bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
            "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            _ => null,
        });
        Assert.Equal(DistinctPlanes, ImageFolder.Decode(file, TestImages.Raw(3, 2)));
    }

    [Fact]
    public void JpegDecodesWithinItsLoss()
    {
        using var tmp = new TempDir();
        // 8 × 8 blocks of one colour each, so the DCT holds them almost exactly even with chroma subsampling.
        var colours = new[] { new Rgb24(200, 40, 40), new Rgb24(40, 200, 40), new Rgb24(40, 40, 200), new Rgb24(128, 128, 128) };
        using var image = TestImages.Rgb(16, 16, (x, y) => colours[x / 8 + 2 * (y / 8)]);
        string file = TestImages.Save(image, tmp.File("blocks.jpg"), new JpegEncoder { Quality = 95 });
        var sample = ImageFolder.Decode(file, TestImages.Raw(16, 16, layout: ImageLayout.Nhwc));
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                var expected = colours[x / 8 + 2 * (y / 8)];
                int at = 3 * (16 * y + x);
                Assert.InRange(sample[at] - expected.R, -6f, 6f);
                Assert.InRange(sample[at + 1] - expected.G, -6f, 6f);
                Assert.InRange(sample[at + 2] - expected.B, -6f, 6f);
            }
    }

    [Fact]
    public void GifGivesItsFirstFrame()
    {
        using var tmp = new TempDir();
        using var gif = TestImages.Rgb(2, 2, (_, _) => new Rgb24(255, 0, 0));
        using var second = TestImages.Rgb(2, 2, (_, _) => new Rgb24(0, 0, 255));
        gif.Frames.AddFrame(second.Frames.RootFrame);
        string file = TestImages.Save(gif, tmp.File("two-frames.gif"), new GifEncoder());
        Assert.Equal([255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0], ImageFolder.Decode(file, TestImages.Raw(2, 2)));
    }

    [Fact]
    public void ChannelOrderAndLayoutPlaceEachByte()
    {
        using var tmp = new TempDir();
        using var image = Distinct();
        string file = TestImages.Save(image, tmp.File("pixels.png"));
        float[] nhwc = ImageFolder.Decode(file, TestImages.Raw(3, 2, layout: ImageLayout.Nhwc));
        float[] bgr = ImageFolder.Decode(file, TestImages.Raw(3, 2, ImageChannels.Bgr));
        float[] bgrNhwc = ImageFolder.Decode(file, TestImages.Raw(3, 2, ImageChannels.Bgr, ImageLayout.Nhwc));
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 6; p++)
            {
                float value = DistinctPlanes[c * 6 + p];
                Assert.Equal(value, nhwc[p * 3 + c]);
                Assert.Equal(value, bgr[(2 - c) * 6 + p]);
                Assert.Equal(value, bgrNhwc[p * 3 + (2 - c)]);
            }
    }

    [Fact]
    public void GrayIsImageSharpsLuminance()
    {
        using var tmp = new TempDir();
        using var image = Distinct();
        string file = TestImages.Save(image, tmp.File("pixels.png"));
        float[] gray = ImageFolder.Decode(file, TestImages.Raw(3, 2, ImageChannels.Gray));
        Assert.Equal(6, gray.Length);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
            {
                var luminance = default(L8);
                luminance.FromRgb24(image[x, y]);
                Assert.Equal(luminance.PackedValue, gray[3 * y + x]);
            }
    }

    [Fact]
    public void MeanAndStdFollowScalingPerChannel()
    {
        using var tmp = new TempDir();
        using var image = Distinct();
        string file = TestImages.Save(image, tmp.File("pixels.png"));
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var unit = TestImages.Raw(3, 2) with { PixelScale = 1f, Mean = mean, Std = std };
        float[] caffeMean = [103.939f, 116.779f, 123.68f];
        var caffe = TestImages.Raw(3, 2, ImageChannels.Bgr) with { Mean = caffeMean, Std = [1f, 1f, 1f] };
        float[] scaled = ImageFolder.Decode(file, unit), bgr = ImageFolder.Decode(file, caffe);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 6; p++)
            {
                float pixel = DistinctPlanes[c * 6 + p];
                Assert.Equal((pixel / 255f - mean[c]) / std[c], scaled[c * 6 + p]);
                // Caffe's mean is in B, G, R order: blue (c = 2) is output channel 0.
                Assert.Equal(pixel - caffeMean[2 - c], bgr[(2 - c) * 6 + p]);
            }
    }

    [Fact]
    public void DownscalingWidensTheTriangleFilter()
    {
        // 4 × 4 in 2 × 2 blocks, only the bottom-right one lit (245). Halving, the triangle filter has radius 2 input
        // pixels: output 0 is centred between inputs 0 and 1 (weight 3/4 each) and reaches input 2 (1/4), which
        // normalise to 6/7 for its own block and 1/7 for the next, per axis. So 245 · (1/7)² = 5, 245 · 6/49 = 30,
        // 245 · (6/7)² = 180.
        using var tmp = new TempDir();
        using var image = TestImages.Rgb(4, 4, (x, y) => x >= 2 && y >= 2 ? new Rgb24(245, 245, 245) : new Rgb24(0, 0, 0));
        string file = TestImages.Save(image, tmp.File("blocks.png"));
        var gray = TestImages.Raw(2, 2, ImageChannels.Gray);
        Assert.Equal([5f, 30f, 30f, 180f], ImageFolder.Decode(file, gray));
        Assert.Equal([5f, 30f, 30f, 180f], ImageFolder.Decode(file, gray with { Resize = 2 }));
    }

    [Fact]
    public void ResizingAConstantImageKeepsItsColour()
    {
        using var tmp = new TempDir();
        string file = TestImages.SolidPng(tmp.File("solid.png"), width: 33, height: 17, r: 7, g: 130, b: 251);
        float[] sample = ImageFolder.Decode(file, TestImages.Raw(5, 9, layout: ImageLayout.Nhwc) with { Resize = 9 });
        for (int i = 0; i < sample.Length; i += 3)
            Assert.Equal([7f, 130f, 251f], sample[i..(i + 3)]);
    }

    [Fact]
    public void CenterCropRoundsHalvesToEvenAsTorchvision()
    {
        // 8 wide, 5 high; the shorter side is already 5, so only the 3-wide, 2-high crop acts:
        // top = round((5 − 2) / 2) = round(1.5) = 2, left = round((8 − 3) / 2) = round(2.5) = 2 (Python rounds to even).
        using var tmp = new TempDir();
        using var image = TestImages.Rgb(8, 5, (x, y) => new Rgb24((byte)(10 * x), (byte)(10 * y), 0));
        string file = TestImages.Save(image, tmp.File("grid.png"));
        float[] sample = ImageFolder.Decode(file, TestImages.Raw(3, 2) with { Resize = 5 });
        Assert.Equal([20, 30, 40, 20, 30, 40], sample[..6]); // red = 10x for x = 2, 3, 4
        Assert.Equal([20, 20, 20, 30, 30, 30], sample[6..12]); // green = 10y for y = 2, 3
    }

    [Fact]
    public void ResizeSetsTheShorterSideAndTruncatesTheLonger()
    {
        // 30 × 20 to shorter side 4: 4 high, int(4 · 30 / 20) = 6 wide; the 6-wide, 4-high crop is then the whole image.
        using var tmp = new TempDir();
        string file = TestImages.SolidPng(tmp.File("wide.png"), width: 30, height: 20);
        Assert.Equal(3 * 4 * 6, ImageFolder.Decode(file, TestImages.Raw(6, 4) with { Resize = 4 }).Length);
        var e = Assert.Throws<InvalidFileException>(() => ImageFolder.Decode(file, TestImages.Raw(7, 4) with { Resize = 4 }));
        Assert.Equal("wide.png: the 30×20 image resized to 6×4 is smaller than the 7×4 crop", e.Message);
    }
}
