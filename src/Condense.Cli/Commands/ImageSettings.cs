// Options of commands that read a folder of images for an image model: where the images are and how they become the
// model's input (the usual resize → center crop → scale → normalise, or a preset, or a preprocessing graph).
using System.ComponentModel;
using Condense.Cli.CommandLine;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal class ImageDataSettings : DataSettings
{
    [CommandOption("--images <DIR>")]
    [Description("A folder of images (JPEG, PNG, BMP, GIF, WebP, TIFF, PPM/PGM, TGA; searched recursively). "
        + "One sub-folder per class gives labels and accuracy; without them the model is measured by fidelity to the original's outputs.")]
    [ConflictsWith("--data")]
    public string? Images { get; init; }

    [CommandOption("--labels <FILE>")]
    [Description("Class labels of --data FILE.npy: a rank-1 integer .npy, one per sample (accuracy is then reported).")]
    [Requires("--data")]
    public string? Labels { get; init; }

    /// <summary>--labels labels the samples of a .npy given as --data; anywhere else it would be ignored.</summary>
    public override ValidationResult Validate() =>
        Labels is not null && !(Data ?? "").EndsWith(".npy", StringComparison.OrdinalIgnoreCase)
            ? ValidationResult.Error("--labels only applies with --data FILE.npy (a CSV file carries its labels, IDX folders their label files)")
            : base.Validate();

    [CommandOption("--preset <NAME>")]
    [Description("imagenet (RGB 0–1, ImageNet mean/std), imagenet-caffe (BGR 0–255 minus the channel means) or none (RGB 0–1). "
        + "Default: from the model's input (imagenet for 3 channels, grayscale 0–1 for 1; raw 0–255 pixels with --preprocess-model).")]
    [Requires("--images")]
    public string? Preset { get; init; }

    [CommandOption("--resize <N>")] [Description("Resize the shorter side to N before the center crop; 0 resizes straight to the crop size.")]
    [Requires("--images")]
    public int? Resize { get; init; }

    [CommandOption("--crop <N>")] [Description("Center crop of N×N (or HxW). Default: the model's input size (224 when not fixed).")]
    [Requires("--images")]
    public string? Crop { get; init; }

    [CommandOption("--mean <LIST>")] [Description("Per-channel mean subtracted after pixel scaling, e.g. 0.485,0.456,0.406.")]
    [Requires("--images")]
    public string? Mean { get; init; }

    [CommandOption("--std <LIST>")] [Description("Per-channel divisor after the mean, e.g. 0.229,0.224,0.225.")]
    [Requires("--images")]
    public string? Std { get; init; }

    [CommandOption("--pixel-scale <S>")] [Description("1: pixels divided by 255 (0–1); 255: pixels as they are (0–255).")]
    [Requires("--images")]
    public int? PixelScale { get; init; }

    [CommandOption("--channels <ORDER>")] [Description("rgb, bgr or gray.")]
    [Requires("--images")]
    public string? Channels { get; init; }

    [CommandOption("--layout <L>")] [Description("nchw or nhwc. Default: from the model's input shape.")]
    [Requires("--images")]
    public string? Layout { get; init; }

    [CommandOption("--preprocess-model <FILE>")]
    [Description("An ONNX graph run on the images before the model (e.g. ML.NET's ResNetPreprocess.onnx); `condense compose` joins the two into one file.")]
    [Requires("--images")]
    public string? PreprocessModel { get; init; }

    [CommandOption("--skip-bad-images")] [Description("Leave out images that cannot be decoded (counted) instead of stopping at the first.")]
    [Requires("--images")]
    public bool SkipBadImages { get; init; }
}
