// One image file → one float sample, as torchvision's Resize(size) → CenterCrop → ToTensor → Normalize computes it:
// ImageSharp decodes (GIF: the first frame) to 8-bit RGB or luminance, resizes on bytes with the triangle filter
// (bilinear, widened when downscaling, as PIL and antialias=True), and the crop is read out of the resized image.
// EXIF orientation is not applied, as torchvision's PIL loader does not apply it either. Images of more than
// ImageFolder.MaxPixels (PIL's decompression-bomb limit), as stored or as resized, are refused.
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Condense.Data.Images;

internal static class ImageDecoder
{
    // GIFs decode their first frame only, and each image runs on one thread: ImageFolder.Load runs files in parallel.
    private static readonly Configuration s_configuration = CreateConfiguration();

    /// <summary>Decodes and preprocesses <paramref name="file"/> into <paramref name="destination"/> (the sample's size).</summary>
    public static void DecodeInto(string file, ImagePreprocessing preprocessing, Span<float> destination)
    {
        if (preprocessing.Channels == ImageChannels.Gray)
        {
            using var gray = Load<L8>(file);
            var (top, left) = Fit(gray, preprocessing, file);
            var tables = Tables(preprocessing);
            for (int y = 0; y < preprocessing.Height; y++)
            {
                var row = gray.DangerousGetPixelRowMemory(top + y).Span.Slice(left, preprocessing.Width);
                for (int x = 0; x < row.Length; x++)
                    destination[y * preprocessing.Width + x] = tables[0][row[x].PackedValue];
            }
            return;
        }
        using var image = Load<Rgb24>(file);
        var (rowOffset, columnOffset) = Fit(image, preprocessing, file);
        WriteColor(image, rowOffset, columnOffset, preprocessing, destination);
    }

    // Writes the H×W window at (top, left) as three channels in the requested order and layout.
    private static void WriteColor(Image<Rgb24> image, int top, int left, ImagePreprocessing preprocessing, Span<float> destination)
    {
        int height = preprocessing.Height, width = preprocessing.Width, plane = height * width;
        bool bgr = preprocessing.Channels == ImageChannels.Bgr;
        var tables = Tables(preprocessing);
        float[] first = tables[0], second = tables[1], third = tables[2];
        for (int y = 0; y < height; y++)
        {
            var row = image.DangerousGetPixelRowMemory(top + y).Span.Slice(left, width);
            for (int x = 0; x < width; x++)
            {
                var pixel = row[x];
                float a = first[bgr ? pixel.B : pixel.R], b = second[pixel.G], c = third[bgr ? pixel.R : pixel.B];
                if (preprocessing.Layout == ImageLayout.Nchw)
                {
                    // destination is (3, H, W)
                    int at = y * width + x;
                    destination[at] = a;
                    destination[plane + at] = b;
                    destination[2 * plane + at] = c;
                }
                else
                {
                    // destination is (H, W, 3)
                    int at = 3 * (y * width + x);
                    destination[at] = a;
                    destination[at + 1] = b;
                    destination[at + 2] = c;
                }
            }
        }
    }

    // value[c][byte] = (byte / 255 − mean[c]) / std[c] in float32, as ToTensor then Normalize compute it (byte alone for
    // PixelScale 255). Exact for no mean/std: (p − 0) / 1 = p, so a gray image gives Mnist's p / 255f bit for bit.
    private static float[][] Tables(ImagePreprocessing preprocessing)
    {
        var normalization = preprocessing.Normalization();
        var tables = new float[normalization.Length][];
        for (int c = 0; c < tables.Length; c++)
        {
            var (mean, std) = normalization[c];
            tables[c] = new float[256];
            for (int p = 0; p < 256; p++)
            {
                float scaled = preprocessing.PixelScale == 1f ? p / 255f : p;
                tables[c][p] = (scaled - mean) / std;
            }
        }
        return tables;
    }

    // Resizes in place and returns where the center crop starts. Resize 0: straight to H×W. Otherwise the shorter side
    // becomes Resize and the longer int(Resize · long / short), torchvision's Resize(int); the crop offsets are
    // torchvision CenterCrop's round((size − crop) / 2), banker's rounding as Python's round.
    private static (int Top, int Left) Fit<TPixel>(Image<TPixel> image, ImagePreprocessing preprocessing, string file)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        int width = image.Width, height = image.Height;
        int newWidth = preprocessing.Width, newHeight = preprocessing.Height;
        if (preprocessing.Resize > 0)
        {
            bool portrait = width <= height;
            int shorter = portrait ? width : height, longer = portrait ? height : width;
            int newLonger = (int)((double)preprocessing.Resize * longer / shorter);
            (newWidth, newHeight) = portrait ? (preprocessing.Resize, newLonger) : (newLonger, preprocessing.Resize);
            if ((long)newWidth * newHeight > ImageFolder.MaxPixels)
                throw new InvalidFileException(file, $"the {width}×{height} image resized to {newWidth}×{newHeight} is more than "
                    + $"{ImageFolder.MaxPixels:N0} pixels");
            if (newWidth < preprocessing.Width || newHeight < preprocessing.Height)
                throw new InvalidFileException(file,
                    $"the {width}×{height} image resized to {newWidth}×{newHeight} is smaller than the {preprocessing.Width}×{preprocessing.Height} crop");
        }
        if (newWidth != width || newHeight != height)
            image.Mutate(s_configuration, operations => operations.Resize(newWidth, newHeight, KnownResamplers.Triangle));
        int top = (int)Math.Round((newHeight - preprocessing.Height) / 2.0);
        int left = (int)Math.Round((newWidth - preprocessing.Width) / 2.0);
        return (top, left);
    }

    private static Image<TPixel> Load<TPixel>(string file) where TPixel : unmanaged, IPixel<TPixel>
    {
        try
        {
            // The header first: a decoder allocates the whole raster its header claims before it reads a pixel.
            if (Image.Identify(s_configuration, file, out _) is { } info && (long)info.Width * info.Height > ImageFolder.MaxPixels)
                throw new InvalidFileException(file, $"cannot decode image: {info.Width}×{info.Height} is more than {ImageFolder.MaxPixels:N0} pixels "
                    + "(PIL's decompression-bomb limit)");
            return Image.Load<TPixel>(s_configuration, file);
        }
        catch (UnknownImageFormatException)
        {
            throw new InvalidFileException(file, "cannot decode image: not a JPEG, PNG, BMP, GIF, WebP, TIFF, TGA or PBM file");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidFileException(file, "cannot decode image: file not found");
        }
        // Decoders of corrupt data fail with more than ImageFormatException (ImageSharp's own): truncated streams end in
        // argument and index errors deep inside the codecs, and the fuzzer found a null reference in the JPEG decoder and
        // a division by zero in the PBM one (ImageSharp 2.1). Each is a bad file, reported with the decoder's reason.
        catch (Exception e) when (e is ImageFormatException or NotSupportedException or InvalidDataException or IOException
            or UnauthorizedAccessException or ArgumentException or IndexOutOfRangeException or InvalidOperationException
            or NullReferenceException or ArithmeticException or InvalidMemoryOperationException)
        {
            string reason = e is NullReferenceException or ArithmeticException ? "corrupt data (the decoder failed)" : DataFile.OneLine(e.Message);
            throw new InvalidFileException(file, $"cannot decode image: {reason}");
        }
    }

    private static Configuration CreateConfiguration()
    {
        var configuration = Configuration.Default.Clone();
        configuration.MaxDegreeOfParallelism = 1;
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        return configuration;
    }
}
