// Presets, the default per model input shape, and the one-line refusals of inconsistent settings.
using Condense.Data.Images;

namespace Condense.Tests.Data.Images;

public class ImagePreprocessingTests
{
    [Fact]
    public void ImagenetPresetIsTorchvisions()
    {
        var p = ImagePreprocessing.Preset("imagenet");
        Assert.Equal((256, 224, 224), (p.Resize, p.Height, p.Width));
        Assert.Equal([0.485f, 0.456f, 0.406f], p.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], p.Std);
        Assert.Equal((1f, ImageChannels.Rgb, ImageLayout.Nchw), (p.PixelScale, p.Channels, p.Layout));
        Assert.Equal([3, 224, 224], p.SampleShape);
        Assert.Equal(366, ImagePreprocessing.Preset("imagenet", 320, 320).Resize); // round(256 / 224 · 320) = round(365.7)
    }

    [Fact]
    public void CaffeAndNonePresets()
    {
        var caffe = ImagePreprocessing.Preset("imagenet-caffe", 227, 227);
        Assert.Equal((259, ImageChannels.Bgr, 255f), (caffe.Resize, caffe.Channels, caffe.PixelScale));
        Assert.Equal([103.939f, 116.779f, 123.68f], caffe.Mean);
        Assert.Equal([1f, 1f, 1f], caffe.Std);
        var none = ImagePreprocessing.Preset("none");
        Assert.Equal((256, ImageChannels.Rgb, 1f), (none.Resize, none.Channels, none.PixelScale));
        Assert.Empty(none.Mean);
        Assert.Empty(none.Std);
    }

    [Fact]
    public void UnknownPresetListsTheNames()
    {
        var e = Assert.Throws<CondenseException>(() => ImagePreprocessing.Preset("inception"));
        Assert.Equal("unknown image preprocessing 'inception': expected one of imagenet, imagenet-caffe, none", e.Message);
    }

    [Fact]
    public void OneChannelModelsGetTheMnistConvention()
    {
        var p = ImagePreprocessing.ForModel([1, 1, 28, 28]);
        Assert.Equal((0, 28, 28, ImageChannels.Gray, ImageLayout.Nchw, 1f), (p.Resize, p.Height, p.Width, p.Channels, p.Layout, p.PixelScale));
        Assert.Empty(p.Mean);
        Assert.Empty(p.Std);
        Assert.Equal([1, 28, 28], p.SampleShape);
        var channelsLast = ImagePreprocessing.ForModel([-1, 32, 16, 1]);
        Assert.Equal((32, 16, ImageLayout.Nhwc), (channelsLast.Height, channelsLast.Width, channelsLast.Layout));
        Assert.Equal([32, 16, 1], channelsLast.SampleShape);
        var dynamic = ImagePreprocessing.ForModel([0, 1, -1, -1]);
        Assert.Equal((28, 28), (dynamic.Height, dynamic.Width));
    }

    [Fact]
    public void ThreeChannelModelsGetTheImagenetPresetAtTheirSize()
    {
        Assert.Equal(ImagePreprocessing.Preset("imagenet").ToString(), ImagePreprocessing.ForModel([-1, 3, -1, -1]).ToString());
        var nhwc = ImagePreprocessing.ForModel([1, 299, 299, 3]);
        Assert.Equal((342, 299, 299, ImageLayout.Nhwc), (nhwc.Resize, nhwc.Height, nhwc.Width, nhwc.Layout));
        Assert.Equal([299, 299, 3], nhwc.SampleShape);
        // Dim 1 of 3 wins over a last dim of 3: a 3-wide NCHW image.
        Assert.Equal(ImageLayout.Nchw, ImagePreprocessing.ForModel([1, 3, 32, 3]).Layout);
    }

    [Theory]
    [InlineData(new[] { 1, 4, 32, 32 }, "an image model takes 1 or 3 channels; its input [1, 4, 32, 32] has 4 channels")]
    [InlineData(new[] { 1, -1, 32, 32 }, "an image model takes 1 or 3 channels; its input [1, -1, 32, 32] has a dynamic channel count")]
    [InlineData(new[] { 1, 784 }, "an image model takes a rank-4 input (batch, channels, height, width), not [1, 784]")]
    public void OtherInputShapesAreRefused(int[] shape, string message)
    {
        Assert.Equal(message, Assert.Throws<CondenseException>(() => ImagePreprocessing.ForModel(shape)).Message);
    }

    [Fact]
    public void ValidateRefusesInconsistentSettings()
    {
        var good = ImagePreprocessing.Preset("imagenet");
        Assert.Same(good, good.Validate());
        Refused(good with { Height = 0 }, "image height and width must be positive, got 0 and 224");
        Refused(good with { Resize = -1 }, "image resize must be 0 (straight to the size) or positive, got -1");
        Refused(good with { Resize = 200 }, "image resize 200 is smaller than the crop (224 high, 224 wide)");
        Refused(good with { Mean = [0.5f] }, "image mean has 1 values for 3 Rgb channel(s)");
        Refused(good with { Channels = ImageChannels.Gray }, "image mean has 3 values for 1 Gray channel(s)");
        Refused(good with { Std = [1f, 0f, 1f] }, "image std must not be 0, got 1, 0, 1");
        Refused(good with { PixelScale = 2f }, "pixel scale must be 1 (pixels in [0, 1]) or 255 (pixels in [0, 255]), got 2");
    }

    private static void Refused(ImagePreprocessing p, string message) =>
        Assert.Equal(message, Assert.Throws<CondenseException>(p.Validate).Message);
}
