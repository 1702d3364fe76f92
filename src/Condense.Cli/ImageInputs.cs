// Turns the image options of a command into data its model reads: the preprocessing (defaults from the model's input,
// a preset, then each option given), the folder decoded with a progress bar, an optional preprocessing graph run on it,
// how many images go through the model at once, and the warnings of a run measured on labelled images.
using System.Globalization;
using Condense.Cli.Commands;
using Condense.Data;
using Condense.Data.Images;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli;

internal static class ImageInputs
{
    /// <summary>Images per model call when the model can take batches.</summary>
    public const int BatchSize = 8;

    /// <summary>
    /// The images of <paramref name="source"/> (a folder) as <paramref name="model"/>'s input: decoded and preprocessed as the
    /// options say, passed through --preprocess-model when given; or the samples of an array file (.npy, .csv) as they are.
    /// One line on stderr says what was read.
    /// </summary>
    public static Dataset Load(Output output, ImageDataSettings settings, string source, GraphModule model, string role)
    {
        if (model.Graph.Inputs.Count != 1) throw new CondenseException($"an image model has one input; this one has {model.Graph.Inputs.Count}");
        if (DataSets.IsArrayFile(source)) return Arrays(output, source, source == settings.Data ? settings.Labels : null, role);
        return Load(output, settings, source, model.Graph.Inputs[0].Shape, role);
    }

    /// <summary>The folder of images or the array file (.npy, .csv) the command measures on: --images, else --data.</summary>
    public static string Source(ImageDataSettings settings) =>
        settings.Images ?? settings.Data ?? throw new CondenseException("no images or array file to measure on");

    /// <summary>What the command's samples are called in its tables: images, or the samples of an array file.</summary>
    public static string Unit(ImageDataSettings settings) => settings.Images is null ? "samples" : "images";

    /// <summary>Whether the command reads images or an array file (not IDX folders).</summary>
    public static bool Given(ImageDataSettings settings) => settings.Images is not null || DataSets.IsArrayFile(settings.Data);

    // The samples of a .npy or CSV file, used as the model's inputs as they are.
    private static Dataset Arrays(Output output, string path, string? labelsPath, string role)
    {
        var data = DataSets.LoadArrays(path, labelsPath);
        string labels = data.Labels is null ? "unlabelled" : $"{data.NumClasses} classes";
        string shape = Markup.Escape(Condense.Tensors.Shape.Format(data.SampleShape));
        output.Console.MarkupLine($"{role}: {data.Count} samples of shape {shape} from {Markup.Escape(path)} ({labels})");
        return data;
    }

    /// <summary>The images of <paramref name="directory"/> for a model whose input has the shape <paramref name="inputShape"/> (batch first).</summary>
    public static Dataset Load(Output output, ImageDataSettings settings, string directory, int[] inputShape, string role)
    {
        var preprocess = settings.PreprocessModel is null ? null : ModelFile.Load(settings.PreprocessModel);
        if (preprocess is { Graph.Inputs.Count: not 1 })
            throw new CondenseException($"a preprocessing model has one input; this one has {preprocess.Graph.Inputs.Count}");
        var preprocessing = Preprocessing(settings, preprocess?.Graph.Inputs[0].Shape ?? inputShape, rawPixels: preprocess is not null);
        var listing = ImageFolder.Scan(directory);
        var data = CountProgress.Run(output, $"reading {role} images", listing.Files.Count,
            progress => ImageFolder.Load(directory, preprocessing, settings.SkipBadImages, progress));
        var images = preprocess is null ? data.Dataset : ImageEvaluation.Transform(preprocess, data.Dataset, BatchSizeOf(output, preprocess, quiet: true));
        string labels = data.ClassNames.Count > 0 ? $"{data.ClassNames.Count} classes" : "unlabelled";
        string skipped = data.Skipped.Count > 0 ? $"; [yellow]skipped {data.Skipped.Count} unreadable[/]" : "";
        output.Console.MarkupLine($"{role}: {images.Count} images from {Markup.Escape(directory)} ({labels}){skipped}");
        return images;
    }

    /// <summary>
    /// Prints and returns the warnings of a run measured on labelled <paramref name="images"/> (at chance level, or more than
    /// ten points below the original: RunWarnings); null when all is well or the images have no labels.
    /// </summary>
    public static IReadOnlyList<string>? Warnings(Output output, Dataset images, ImageMetrics before, ImageMetrics after) =>
        before.Accuracy is double original && after.Accuracy is double accuracy
            ? output.Warnings(RunWarnings.Check(accuracy, images.NumClasses, original, "the original model"))
            : null;

    /// <summary>Images per call: <see cref="BatchSize"/> when the model's batch dimension is dynamic or can be made so, else 1 (said once).</summary>
    public static int BatchSizeOf(Output output, GraphModule model, bool quiet = false) => Batchable(output, model, quiet).BatchSize;

    /// <summary>
    /// The model to compress, with its batch dimension made dynamic when it is fixed at 1 but the graph does not bake it in
    /// (so the saved result takes batches), and the images per call: <see cref="BatchSize"/>, or 1 when the batch is baked in.
    /// </summary>
    public static (GraphModule Model, int BatchSize) Batchable(Output output, GraphModule model, bool quiet = false)
    {
        var declared = model.Graph.Inputs[0].Shape;
        if (declared.Length == 0 || declared[0] != 1) return (model, BatchSize);
        var support = BatchDimension.Check(model);
        if (support.CanBatch)
        {
            if (!quiet) output.Console.MarkupLine("the model's batch dimension is fixed at 1 but its graph takes batches: made it dynamic");
            return (BatchDimension.MakeDynamic(model), BatchSize);
        }
        if (!quiet) output.Console.MarkupLine($"[yellow]running image by image[/]: {Markup.Escape(support.Reason ?? "the batch dimension is fixed at 1")}");
        return (model, 1);
    }

    /// <summary>The preprocessing the options describe for a model input of shape <paramref name="inputShape"/>.</summary>
    public static ImagePreprocessing Preprocessing(ImageDataSettings s, int[] inputShape, bool rawPixels)
    {
        var p = ImagePreprocessing.ForModel(inputShape);
        if (rawPixels && p.Channels != ImageChannels.Gray)
            p = p with { PixelScale = 255, Mean = [0, 0, 0], Std = [1, 1, 1] };
        if (s.Preset is { } preset) p = ImagePreprocessing.Preset(preset, p.Height, p.Width) with { Layout = p.Layout };
        if (s.Crop is { } crop)
        {
            var (h, w) = ParseCrop(crop);
            bool keepRatio = p.Resize > 0;
            p = p with { Height = h, Width = w, Resize = keepRatio ? (int)Math.Round(Math.Min(h, w) * 256.0 / 224) : 0 };
        }
        if (s.Resize is int resize) p = p with { Resize = resize };
        if (s.Channels is { } channels) p = p with { Channels = ParseEnum<ImageChannels>("--channels", channels) };
        if (s.Layout is { } layout) p = p with { Layout = ParseEnum<ImageLayout>("--layout", layout) };
        if (s.PixelScale is int scale) p = p with { PixelScale = scale };
        int count = p.Channels == ImageChannels.Gray ? 1 : 3;
        if (s.Mean is { } mean) p = p with { Mean = ParseList("--mean", mean, count) };
        else if (p.Mean.Length != count) p = p with { Mean = new float[count] };
        if (s.Std is { } std) p = p with { Std = ParseList("--std", std, count) };
        else if (p.Std.Length != count) p = p with { Std = [.. Enumerable.Repeat(1f, count)] };
        p.Validate();
        return p;
    }

    private static (int Height, int Width) ParseCrop(string text)
    {
        var parts = text.Split('x', 'X');
        if (parts.Length is 1 or 2 && parts.All(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0))
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture));
        throw new CondenseException($"--crop expects N or HxW with positive sizes, e.g. 224 or 224x192; got '{text}'");
    }

    private static float[] ParseList(string option, string text, int count)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new CondenseException($"{option} expects {count} comma-separated numbers, got '{text}'");
        if (values.Length == 1 && count > 1) return [.. Enumerable.Repeat(values[0], count)];
        if (values.Length != count) throw new CondenseException($"{option} needs {count} values (one per channel), got {values.Length}: '{text}'");
        return values;
    }

    private static T ParseEnum<T>(string option, string text) where T : struct, Enum =>
        Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value) ? value
            : throw new CondenseException($"{option} must be {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}; got '{text}'");
}
