// RandomResizedCrop: seeded, shape-preserving, and at full scale exactly the image or its mirror.
using Condense.Data.Images;
using Condense.Tensors;

namespace Condense.Tests.Data.Images;

public class ImageAugmentTests
{
    private static Tensor Batch(int n, params int[] sampleShape) => Tensor.Uniform(new Rng(7), 0f, 1f, [n, .. sampleShape]);

    [Fact]
    public void TheSameSeedGivesTheSameCrops()
    {
        var batch = Batch(6, 3, 17, 23);
        var first = ImageAugment.RandomResizedCrop(batch, [3, 17, 23], ImageLayout.Nchw, new Rng(42));
        var again = ImageAugment.RandomResizedCrop(batch, [3, 17, 23], ImageLayout.Nchw, new Rng(42));
        var other = ImageAugment.RandomResizedCrop(batch, [3, 17, 23], ImageLayout.Nchw, new Rng(43));
        Assert.Equal(batch.Shape, first.Shape);
        Assert.Equal(first.Data, again.Data);
        Assert.NotEqual(first.Data, other.Data);
        Assert.NotEqual(batch.Data, first.Data);
        // Bilinear weights are convex: every value lies within the input's range.
        Assert.All(first.Data, v => Assert.InRange(v, batch.Data.Min(), batch.Data.Max()));
    }

    [Theory]
    [InlineData(ImageLayout.Nchw)]
    [InlineData(ImageLayout.Nhwc)]
    public void FullScaleIsTheImageOrItsMirror(ImageLayout layout)
    {
        // Area 1 on a square image: a crop fits only when its sides round to the image's (else the whole image after
        // ten tries), so every sample is copied, then perhaps mirrored.
        const int n = 16, channels = 3, size = 8;
        int[] sampleShape = layout == ImageLayout.Nchw ? [channels, size, size] : [size, size, channels];
        var flat = Batch(n, channels * size * size); // a [N, features] batch works as well as [N, C, H, W]
        var unflipped = ImageAugment.RandomResizedCrop(flat, sampleShape, layout, new Rng(1), 1.0, 1.0, flip: false);
        Assert.Equal(flat.Data, unflipped.Data);

        var flipped = ImageAugment.RandomResizedCrop(flat, sampleShape, layout, new Rng(1), 1.0, 1.0);
        Assert.Equal([n, channels * size * size], flipped.Shape);
        int mirrored = 0;
        for (int s = 0; s < n; s++)
        {
            bool same = true, mirror = true;
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        float output = flipped.Data[Index(layout, s, c, y, x)];
                        same &= output == flat.Data[Index(layout, s, c, y, x)];
                        mirror &= output == flat.Data[Index(layout, s, c, y, size - 1 - x)];
                    }
            Assert.True(same || mirror, $"sample {s} is neither the image nor its mirror");
            if (mirror) mirrored++;
        }
        Assert.InRange(mirrored, 1, n - 1);

        static int Index(ImageLayout layout, int s, int c, int y, int x) => s * channels * size * size
            + (layout == ImageLayout.Nchw ? (c * size + y) * size + x : (y * size + x) * channels + c);
    }

    [Fact]
    public void ConstantImagesStayConstant()
    {
        var batch = Tensor.Full(0.375f, 4, 2, 31, 33);
        var crops = ImageAugment.RandomResizedCrop(batch, [2, 31, 33], ImageLayout.Nchw, new Rng(5), 0.08, 0.5);
        Assert.All(crops.Data, v => Assert.Equal(0.375f, v, 1e-6f));
    }

    [Fact]
    public void MismatchedShapesAndScalesAreRefused()
    {
        var batch = Batch(2, 3, 4, 4);
        var shape = Assert.Throws<CondenseException>(() => ImageAugment.RandomResizedCrop(batch, [3, 5, 4], ImageLayout.Nchw, new Rng(0)));
        Assert.Equal("a batch of shape [2, 3, 4, 4] does not hold samples of shape [3, 5, 4]", shape.Message);
        var scale = Assert.Throws<CondenseException>(() => ImageAugment.RandomResizedCrop(batch, [3, 4, 4], ImageLayout.Nchw, new Rng(0), 0.5, 0.4));
        Assert.Equal("crop scales must satisfy 0 < min ≤ max ≤ 1, got 0.5 and 0.4", scale.Message);
    }
}
