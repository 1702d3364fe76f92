// Training-time augmentation of photo batches: torchvision's RandomResizedCrop (Szegedy et al. 2015, "Going deeper with
// convolutions": a random part of the area, aspect ratio 3/4–4/3, resized back; 35–100 % of the area by default here,
// gentler than torchvision's 8–100 % for short fine-tuning runs) and RandomHorizontalFlip.
// The crop is never larger than the image, so resizing it back only upsamples, where bilinear needs no antialiasing.
using Condense.Tensors;

namespace Condense.Data.Images;

/// <summary>Random transformations of image batches, seeded so a run repeats exactly.</summary>
public static class ImageAugment
{
    /// <summary>
    /// For each sample of <paramref name="batch"/> (N first, then <paramref name="sampleShape"/>: [C, H, W] or [H, W, C]
    /// as <paramref name="layout"/> says, so [N, C, H, W] and [N, features] batches both work): a random crop of
    /// [<paramref name="minScale"/>, <paramref name="maxScale"/>] of the area with aspect ratio log-uniform in
    /// [3/4, 4/3], resized back to H×W bilinearly (align_corners = false), then mirrored left-right with probability
    /// 1/2 when <paramref name="flip"/>. After 10 tries without a fitting crop, the whole image is used (the central
    /// crop of the aspect range when the image's own ratio is outside it), as torchvision does. Returns a new tensor of
    /// the batch's shape.
    /// </summary>
    public static Tensor RandomResizedCrop(Tensor batch, int[] sampleShape, ImageLayout layout, Rng rng,
        double minScale = 0.35, double maxScale = 1.0, bool flip = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentNullException.ThrowIfNull(rng);
        if (sampleShape.Length != 3 || sampleShape.Any(d => d <= 0))
            throw new CondenseException($"an image sample has shape [C, H, W] or [H, W, C], not {Shape.Format(sampleShape)}");
        int sampleSize = Shape.Size(sampleShape);
        if (batch.Rank == 0 || batch.Size != batch.Shape[0] * sampleSize)
            throw new CondenseException($"a batch of shape {Shape.Format(batch.Shape)} does not hold samples of shape {Shape.Format(sampleShape)}");
        if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1))
            throw new CondenseException($"crop scales must satisfy 0 < min ≤ max ≤ 1, got {minScale} and {maxScale}");

        var image = layout == ImageLayout.Nchw
            ? new Geometry(sampleShape[0], sampleShape[1], sampleShape[2], sampleShape[1] * sampleShape[2], 1)
            : new Geometry(sampleShape[2], sampleShape[0], sampleShape[1], 1, sampleShape[2]);
        var source = batch.Data;
        var result = new float[source.Length];
        for (int n = 0; n < batch.Shape[0]; n++)
        {
            var crop = DrawCrop(image.Height, image.Width, minScale, maxScale, rng);
            bool mirror = flip && rng.NextDouble() < 0.5;
            var offset = n * sampleSize;
            Resample(source.AsSpan(offset, sampleSize), result.AsSpan(offset, sampleSize), image, crop, mirror);
        }
        return new Tensor(result, (int[])batch.Shape.Clone());
    }

    // Where channel c, row y, column x of a sample sits: c · ChannelStride + (y · Width + x) · PixelStride.
    private readonly record struct Geometry(int Channels, int Height, int Width, int ChannelStride, int PixelStride);

    private readonly record struct Crop(int Top, int Left, int Height, int Width);

    // torchvision RandomResizedCrop.get_params, with Python's round (to even) and randint's inclusive bounds.
    private static Crop DrawCrop(int height, int width, double minScale, double maxScale, Rng rng)
    {
        const double minRatio = 3.0 / 4.0, maxRatio = 4.0 / 3.0;
        double area = (double)height * width, logMin = Math.Log(minRatio), logMax = Math.Log(maxRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * (minScale + (maxScale - minScale) * rng.NextDouble());
            double ratio = Math.Exp(logMin + (logMax - logMin) * rng.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(targetArea * ratio));
            int h = (int)Math.Round(Math.Sqrt(targetArea / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height)
                return new Crop(rng.NextInt(height - h + 1), rng.NextInt(width - w + 1), h, w);
        }
        double own = (double)width / height;
        var (fallbackHeight, fallbackWidth) = own < minRatio ? ((int)Math.Round(width / minRatio), width)
            : own > maxRatio ? (height, (int)Math.Round(height * maxRatio))
            : (height, width);
        return new Crop((height - fallbackHeight) / 2, (width - fallbackWidth) / 2, fallbackHeight, fallbackWidth);
    }

    // Bilinear resize of the crop to the full H×W, half-pixel centers (PyTorch's align_corners = false): output pixel
    // i samples the crop at (i + 0.5) · crop / size − 0.5, clamped to the crop. A crop of the full size maps each
    // pixel onto itself, weights 1 and 0, so it copies exactly.
    private static void Resample(ReadOnlySpan<float> source, Span<float> destination, Geometry image, Crop crop, bool mirror)
    {
        var rows = Taps(image.Height, crop.Top, crop.Height);
        var columns = Taps(image.Width, crop.Left, crop.Width);
        int width = image.Width, stride = image.PixelStride;
        for (int c = 0; c < image.Channels; c++)
        {
            int plane = c * image.ChannelStride;
            for (int y = 0; y < image.Height; y++)
            {
                var (y0, y1, wy) = rows[y];
                int row0 = plane + y0 * width * stride, row1 = plane + y1 * width * stride, output = plane + y * width * stride;
                for (int x = 0; x < width; x++)
                {
                    var (x0, x1, wx) = columns[mirror ? width - 1 - x : x];
                    float top = Lerp(source[row0 + x0 * stride], source[row0 + x1 * stride], wx);
                    float bottom = Lerp(source[row1 + x0 * stride], source[row1 + x1 * stride], wx);
                    destination[output + x * stride] = Lerp(top, bottom, wy);
                }
            }
        }
    }

    private static float Lerp(float a, float b, float t) => t == 0f ? a : (1f - t) * a + t * b;

    // For each output index: the two source indices (in the full image) and the weight of the second; 0 at the far
    // edge, where both are the last pixel of the crop, so edge pixels copy exactly.
    private static (int First, int Second, float Weight)[] Taps(int size, int start, int length)
    {
        var taps = new (int, int, float)[size];
        double step = (double)length / size;
        for (int i = 0; i < size; i++)
        {
            double at = Math.Max(0.0, (i + 0.5) * step - 0.5);
            int first = Math.Min((int)at, length - 1);
            int second = Math.Min(first + 1, length - 1);
            taps[i] = (start + first, start + second, second == first ? 0f : (float)(at - first));
        }
        return taps;
    }
}
