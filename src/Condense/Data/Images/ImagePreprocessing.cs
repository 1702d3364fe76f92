// How an image file becomes a model input: resize (shorter side, as torchvision's Resize(int)), center crop, pixel
// scaling, per-channel (p − mean)/std, channel order and layout. Presets name the two usual ImageNet conventions
// (torchvision's and Caffe/Keras "caffe" mode); ForModel picks a default from a model's input shape.
namespace Condense.Data.Images;

/// <summary>The channels an image is decoded to, in output order.</summary>
public enum ImageChannels
{
    /// <summary>Red, green, blue (torchvision, most ONNX exports).</summary>
    Rgb,
    /// <summary>Blue, green, red (Caffe, OpenCV).</summary>
    Bgr,
    /// <summary>One luminance channel (MNIST-style models).</summary>
    Gray,
}

/// <summary>Where the channel axis sits in a sample.</summary>
public enum ImageLayout
{
    /// <summary>Channels first: a sample is [C, H, W] (PyTorch, ONNX).</summary>
    Nchw,
    /// <summary>Channels last: a sample is [H, W, C] (TensorFlow, Keras).</summary>
    Nhwc,
}

/// <summary>
/// The preprocessing of one image: resize, center crop, scale, normalise, order channels. Immutable; check with
/// <see cref="Validate"/> (the loaders do).
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>
    /// The shorter side is resized to this first (the longer side keeps the aspect ratio, truncated as torchvision
    /// does), then the center <see cref="Height"/>×<see cref="Width"/> is cropped. 0: resize straight to
    /// Height×Width, with no crop.
    /// </summary>
    public int Resize { get; init; }

    /// <summary>Height of the output (the crop).</summary>
    public int Height { get; init; } = 224;

    /// <summary>Width of the output (the crop).</summary>
    public int Width { get; init; } = 224;

    /// <summary>Per-channel mean subtracted after pixel scaling, in output channel order; empty: zeros.</summary>
    public float[] Mean { get; init; } = [];

    /// <summary>Per-channel divisor applied after the mean, in output channel order; empty: ones.</summary>
    public float[] Std { get; init; } = [];

    /// <summary>The largest scaled pixel value: 1 divides pixels by 255 into [0, 1]; 255 keeps them in [0, 255].</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>The channels and their order.</summary>
    public ImageChannels Channels { get; init; } = ImageChannels.Rgb;

    /// <summary>Channels first or last.</summary>
    public ImageLayout Layout { get; init; } = ImageLayout.Nchw;

    /// <summary>The names <see cref="Preset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["imagenet", "imagenet-caffe", "none"];

    /// <summary>Number of channels: 1 for gray, 3 otherwise.</summary>
    public int ChannelCount => Channels == ImageChannels.Gray ? 1 : 3;

    /// <summary>The shape of one sample: [C, H, W] for NCHW, [H, W, C] for NHWC.</summary>
    public int[] SampleShape => Layout == ImageLayout.Nchw ? [ChannelCount, Height, Width] : [Height, Width, ChannelCount];

    /// <summary>
    /// A named convention at the given crop size; the shorter side is first resized to round(256/224 × crop), the
    /// larger crop side, so the crop always fits (256 for 224):
    /// "imagenet" (torchvision: RGB in [0, 1], mean 0.485, 0.456, 0.406, std 0.229, 0.224, 0.225, NCHW),
    /// "imagenet-caffe" (BGR in [0, 255], mean 103.939, 116.779, 123.68 in B, G, R order, std 1, NCHW),
    /// "none" (RGB in [0, 1], no mean or std, NCHW).
    /// </summary>
    public static ImagePreprocessing Preset(string name, int height = 224, int width = 224)
    {
        ArgumentNullException.ThrowIfNull(name);
        var resized = new ImagePreprocessing
        {
            Resize = (int)Math.Round(256.0 / 224.0 * Math.Max(height, width)),
            Height = height,
            Width = width,
        };
        var preset = name.ToLowerInvariant() switch
        {
            "imagenet" => resized with { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] },
            "imagenet-caffe" => resized with
            {
                Channels = ImageChannels.Bgr,
                PixelScale = 255f,
                Mean = [103.939f, 116.779f, 123.68f],
                Std = [1f, 1f, 1f],
            },
            "none" => resized,
            _ => throw new CondenseException($"unknown image preprocessing '{name}': expected one of {string.Join(", ", PresetNames)}"),
        };
        return preset.Validate();
    }

    /// <summary>
    /// The default preprocessing for a model whose input has <paramref name="inputShape"/> (rank 4, batch first; dims
    /// ≤ 0 are dynamic). The layout is NHWC when the last dim is 1 or 3 and dim 1 is not, NCHW otherwise. One channel:
    /// gray in [0, 1], no mean or std, resized straight to H×W (the MNIST convention: a folder of MNIST PNGs gives the
    /// IDX loader's values; 28 where a size is dynamic). Three channels: the "imagenet" preset at the model's size (224
    /// where dynamic). Other channel counts are refused.
    /// </summary>
    public static ImagePreprocessing ForModel(int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Length != 4)
            throw new CondenseException($"an image model takes a rank-4 input (batch, channels, height, width), not {Tensors.Shape.Format(inputShape)}");
        bool channelsLast = inputShape[3] is (1 or 3) && inputShape[1] is not (1 or 3);
        var layout = channelsLast ? ImageLayout.Nhwc : ImageLayout.Nchw;
        int channels = channelsLast ? inputShape[3] : inputShape[1];
        int height = channelsLast ? inputShape[1] : inputShape[2];
        int width = channelsLast ? inputShape[2] : inputShape[3];
        switch (channels)
        {
            case 1:
                const int mnistSize = 28;
                return new ImagePreprocessing
                {
                    Height = height > 0 ? height : mnistSize,
                    Width = width > 0 ? width : mnistSize,
                    Channels = ImageChannels.Gray,
                    Layout = layout,
                }.Validate();
            case 3:
                const int imagenetSize = 224;
                return Preset("imagenet", height > 0 ? height : imagenetSize, width > 0 ? width : imagenetSize) with { Layout = layout };
            default:
                string found = channels > 0 ? $"{channels} channels" : "a dynamic channel count";
                throw new CondenseException($"an image model takes 1 or 3 channels; its input {Tensors.Shape.Format(inputShape)} has {found}");
        }
    }

    /// <summary>Throws a one-line <see cref="CondenseException"/> for inconsistent settings; returns this.</summary>
    public ImagePreprocessing Validate()
    {
        if (Height <= 0 || Width <= 0)
            throw new CondenseException($"image height and width must be positive, got {Height} and {Width}");
        if (Resize < 0)
            throw new CondenseException($"image resize must be 0 (straight to the size) or positive, got {Resize}");
        if (Resize > 0 && Resize < Math.Min(Height, Width))
            throw new CondenseException($"image resize {Resize} is smaller than the crop ({Height} high, {Width} wide)");
        if (!Enum.IsDefined(Channels)) throw new CondenseException($"unknown image channels {Channels}");
        if (!Enum.IsDefined(Layout)) throw new CondenseException($"unknown image layout {Layout}");
        CheckPerChannel(Mean, "mean");
        CheckPerChannel(Std, "std");
        if (Std.Any(s => s == 0f))
            throw new CondenseException($"image std must not be 0, got {string.Join(", ", Std)}");
        if (PixelScale is not (1f or 255f))
            throw new CondenseException($"pixel scale must be 1 (pixels in [0, 1]) or 255 (pixels in [0, 255]), got {PixelScale}");
        return this;
    }

    /// <summary>Mean and std per output channel, empty arrays filled in: value = (scaled pixel − mean)/std.</summary>
    internal (float Mean, float Std)[] Normalization()
    {
        var result = new (float, float)[ChannelCount];
        for (int c = 0; c < result.Length; c++)
            result[c] = (Mean.Length == 0 ? 0f : Mean[c], Std.Length == 0 ? 1f : Std[c]);
        return result;
    }

    private void CheckPerChannel(float[] values, string what)
    {
        if (values is null)
            throw new CondenseException($"image {what} must not be null (empty for none)");
        if (values.Length != 0 && values.Length != ChannelCount)
            throw new CondenseException($"image {what} has {values.Length} values for {ChannelCount} {Channels} channel(s)");
        if (values.Any(v => !float.IsFinite(v)))
            throw new CondenseException($"image {what} must be finite, got {string.Join(", ", values)}");
    }
}
