// ResNet-18 (ML.NET's ImageNet-pretrained CNTK export, issue 16) made smaller and faster, measured on photos against the
// original: calibrated / distilled on data/images/calibration (65 crops of five photographs), measured on
// data/images/heldout (78 crops of six others). Pixels go through ResNetPreprocess.onnx (RGB → BGR minus the mean image),
// as ML.NET feeds the model. For each variant: fidelity of the 512-d features (cosine, top-10 overlap), the same through
// ONNX Runtime on the exported file, parameters, file size, and ORT's batch-1 speed of the original over the variant's
// (interleaved, best of 7, one run).
//   dotnet run -c Release --project bench/Condense.Bench -- image-compress --variants int8,int8-equalize,int8-bias,int8-adaround,
//       int8-all,sparse50,sparse50-sens (any sparseNN[-sens]),nm24,filters30,filters30-distil,filters30-obs,filters30-obs-sens,
//       filters30-obs-joined,filters30-obs-distil [--epochs E] [--lr X] [--hidden-weight W]
//       [--multiple M] [--target own|uncut|uncutsum] [--dampening D (default the library's 0.1)] [--augment K] [--joined]
//       [--exclude PATTERN,…]
// The -obs variants choose the filters on the calibration photos and refit their readers (CalibratedFilters); -sens spreads
// the 30 % of multiply-adds over the blocks by measured sensitivity (FilterAllocation) [--sensitivity-samples N].
using System.Diagnostics;
using System.Globalization;
using Condense.Data;
using Condense.Data.Images;
using Condense.Distillation;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tensors;
using Condense.Tests.Pretrained;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

internal static class ImageCompressBench
{
    public static int Run(string[] args)
    {
        var variants = Option(args, "--variants", "int8,filters30").Split(',');
        string root = TextSpeedBench.RepoRoot();
        var model = ModelFile.Load(PretrainedModels.ResNet18Onnx);
        var preprocess = ModelFile.Load(PretrainedModels.ResNetPreprocessOnnx);
        // ResNetPreprocess takes RGB pixels 0–255: ImageNet's resize 256 → center crop 224, no scaling.
        var pixels = ImagePreprocessing.Preset("none") with { PixelScale = 255 };
        Dataset Photos(string folder) => ImageEvaluation.Transform(preprocess,
            ImageFolder.Load(Path.Combine(root, "data", "images", folder), pixels).Dataset);
        var calibration = Photos("calibration");
        var heldout = Photos("heldout");
        var reference = ImageEvaluation.Outputs(model, heldout);
        string dir = Directory.CreateTempSubdirectory("condense-imagecompress").FullName;
        Console.WriteLine($"ResNet-18 ({new FileInfo(PretrainedModels.ResNet18Onnx).Length / 1e6:F1} MB); {calibration.Count} calibration photos, "
            + $"{heldout.Count} held-out photos");
        Console.WriteLine($"{"variant",-18} {"cos mean",9} {"cos min",8} {"top10",6} {"ORT cos",8} {"params",11} {"non-zero",11} {"MB",6} "
            + $"{"seconds",8} {"ORT speed-up b1",16}");
        foreach (var variant in variants)
        {
            var clock = Stopwatch.StartNew();
            var compressed = Build(variant, model, calibration, args);
            double seconds = clock.Elapsed.TotalSeconds;
            string path = Path.Combine(dir, variant + ".onnx");
            ModelFile.Save(compressed.Graph, path);
            var ours = ImageEvaluation.Compare(ImageEvaluation.Outputs(InferenceEngine.Compile(compressed).Runner, heldout), reference);
            double ortCosine = OrtFidelity(path, heldout, reference);
            var summary = ModelSummary.Of(compressed);
            double speedup = OrtSpeedup(PretrainedModels.ResNet18Onnx, path, heldout);
            Console.WriteLine($"{variant,-18} {ours.CosineMean,9:F4} {ours.CosineMin,8:F4} {ours.TopKOverlap,6:F3} {ortCosine,8:F4} "
                + $"{summary.Parameters,11:N0} {summary.NonzeroParameters,11:N0} {new FileInfo(path).Length / 1e6,6:F1} {seconds,8:F1} {speedup,15:F2}×");
        }
        return 0;
    }

    private static GraphModule Build(string variant, GraphModule model, Dataset calibration, string[] args)
    {
        string input = model.Graph.Inputs[0].Name;
        var int8 = new QuantizeOptions { Mode = QuantizationMode.Static };
        GraphModule Quantize(QuantizeOptions o) => Quantizer.Quantize(model, o, () => calibration.Feeds(input, 8)).Model;
        return variant switch
        {
            "int8" => Quantize(int8),
            "int8-equalize" => Quantize(int8 with { Equalize = true }),
            "int8-bias" => Quantize(int8 with { BiasCorrection = true }),
            "int8-adaround" => Quantize(int8 with { AdaRound = true }),
            "int8-all" => Quantize(int8 with { Equalize = true, BiasCorrection = true, AdaRound = true }),
            // sparseNN: NN % of every conv's weights by magnitude; -sens: spread by measured sensitivity on the calibration photos.
            _ when variant.StartsWith("sparse", StringComparison.Ordinal) => Pruned(model, new PruneOptions
            {
                Sparsity = int.Parse(variant["sparse".Length..].Split('-')[0], CultureInfo.InvariantCulture) / 100.0,
                Allocation = variant.EndsWith("-sens", StringComparison.Ordinal) ? SparsityAllocation.Sensitivity : SparsityAllocation.Uniform,
            }, () => calibration.Feeds(input, 8)),
            "nm24" => Pruned(model, new PruneOptions { Method = PruneMethod.NM, N = 2, M = 4 }),
            "filters30" => StructuredPruning.Remove(model, 0.3).Model,
            "filters30-distil" => Distilled(model, calibration, args, calibrated: false),
            // Chosen on the calibration photos with the reading conv refitted; residual channels left whole or cut by norm.
            "filters30-obs" => CalibratedCut(model, calibration, args, pruneJoined: false).Model,
            "filters30-obs-sens" => SensitivityCut(model, calibration, args),
            "filters30-obs-joined" => CalibratedCut(model, calibration, args, pruneJoined: true).Model,
            "filters30-obs-distil" => Distilled(model, calibration, args, calibrated: true),
            _ => throw new ArgumentException($"unknown variant {variant}"),
        };
    }

    // 30 % of the filters removed, then distilled on the calibration photos (random resized crops and flips) to the teacher's features.
    private static GraphModule Distilled(GraphModule model, Dataset train, string[] args, bool calibrated)
    {
        var defaults = new FeatureDistillOptions();
        var options = defaults with
        {
            Epochs = int.Parse(Option(args, "--epochs", defaults.Epochs.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            LearningRate = float.Parse(Option(args, "--lr", defaults.LearningRate.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            HiddenWeight = float.Parse(Option(args, "--hidden-weight", "0"), CultureInfo.InvariantCulture),
        };
        var shape = train.SampleShape;
        var cut = calibrated
            ? CalibratedCut(model, train, args, pruneJoined: args.Contains("--joined"))
            : ImageDistillPipeline.Cut(model, 0.3);
        var (student, report) = ImageDistillPipeline.Distil(model, cut, 0.3, train, train.Take(2), options,
            (batch, rng) => ImageAugment.RandomResizedCrop(batch, shape, ImageLayout.Nchw, rng));
        Console.Error.WriteLine($"  distilled {options.Epochs} epochs, lr {options.LearningRate}: {report.Seconds:F0} s, "
            + $"last loss {report.Epochs[^1].Loss:F4}");
        return student;
    }

    // The value after `name` in the arguments, or the fallback.
    private static string Option(string[] args, string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

    // Filters chosen on the photos: --multiple M (kept channels rounded to a multiple of M), --target own|uncut|uncutsum,
    // --dampening D, --augment K (K randomly cropped and flipped copies of the photos besides them, seeded).
    private static StructuredResult CalibratedCut(GraphModule model, Dataset photos, string[] args, bool pruneJoined)
    {
        int multiple = int.Parse(Option(args, "--multiple", "1"), CultureInfo.InvariantCulture);
        var target = Enum.Parse<RefitTarget>(Option(args, "--target", "own"), ignoreCase: true);
        double dampening = double.Parse(Option(args, "--dampening", FilterCutOptions.DefaultDampening.ToString(CultureInfo.InvariantCulture)),
            CultureInfo.InvariantCulture);
        int copies = int.Parse(Option(args, "--augment", "0"), CultureInfo.InvariantCulture);
        string[] exclude = Option(args, "--exclude", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string input = model.Graph.Inputs[0].Name;
        var shape = photos.SampleShape;
        IEnumerable<IReadOnlyDictionary<string, Tensor>> Feeds()
        {
            foreach (var feed in photos.Feeds(input, 8)) yield return feed;
            var rng = new Rng(11);
            for (int k = 0; k < copies; k++)
                foreach (var feed in photos.Feeds(input, 8))
                    yield return new Dictionary<string, Tensor> { [input] = ImageAugment.RandomResizedCrop(feed[input], shape, ImageLayout.Nchw, rng) };
        }
        return CalibratedFilters.Remove(model, 0.3, Feeds,
            new FilterCutOptions { PruneJoined = pruneJoined, ChannelMultiple = multiple, Target = target, Dampening = dampening, Exclude = exclude });
    }

    // The ratio spread over the groups by their measured effect on the features of the calibration photos (FilterAllocation).
    private static GraphModule SensitivityCut(GraphModule model, Dataset photos, string[] args)
    {
        string input = model.Graph.Inputs[0].Name;
        var options = new FilterCutOptions { ChannelMultiple = int.Parse(Option(args, "--multiple", "1"), CultureInfo.InvariantCulture) };
        // As `prune --images --structured --allocation sensitivity` does: the sweep measured on the first 32 photos (at most half),
        // its cuts refitted on the others; the final cut refitted on all.
        int measured = Math.Min(int.Parse(Option(args, "--sensitivity-samples", "32"), CultureInfo.InvariantCulture), photos.Count / 2);
        var probe = photos.Take(measured);
        var refit = photos.Select([.. Enumerable.Range(measured, photos.Count - measured)]);
        var loss = SensitivityAllocation.OutputCosineLoss(model, probe.Feeds(input, 8));
        var sweep = new Progress<(int Done, int Total)>(p => Console.Error.Write($"\r  sweep {p.Done}/{p.Total}"));
        var (result, curves, ratios) = FilterAllocation.Remove(model, 0.3, () => photos.Feeds(input, 8), options, loss, () => refit.Feeds(input, 8), sweep);
        Console.Error.WriteLine();
        foreach (var c in curves)
            Console.Error.WriteLine($"  {c.Tensor,-40} {c.Parameters,14:N0} → {ratios[c.Tensor]:F3}   "
                + string.Join(" ", c.Losses.Select(l => l.ToString("F4", CultureInfo.InvariantCulture))));
        foreach (var change in result.Changes) Console.Error.WriteLine($"  {string.Join(" + ", change.Layers)}: {change.ChannelsBefore} → {change.Kept.Count}");
        return result.Model;
    }

    private static GraphModule Pruned(GraphModule model, PruneOptions options,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration = null)
    {
        var pruned = new GraphModule(model.Graph.Clone());
        Pruner.Prune(pruned, options, calibration);
        return pruned;
    }

    // The exported file's features in ONNX Runtime, image by image, against the reference's.
    private static double OrtFidelity(string path, Dataset images, ImageOutputs reference)
    {
        using var session = new InferenceSession(path);
        string input = session.InputMetadata.Keys.First();
        var rows = new float[images.Count][];
        for (int i = 0; i < images.Count; i++)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(images.Batch([i]).Data, [1, .. images.SampleShape.Select(d => (long)d)]);
            using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
            using var results = session.Run(runOptions, [input], [value], [session.OutputMetadata.Keys.First()]);
            rows[i] = results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        return Enumerable.Range(0, rows.Length).Average(i => Fidelity.Cosine(rows[i], reference.Rows[i]));
    }

    // ORT's batch-1 time of the original over the variant's: interleaved, best of 7 after a warm-up round, 2 threads, no spinning.
    public static double OrtSpeedup(string originalPath, string variantPath, Dataset images)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var original = new InferenceSession(originalPath, options);
        using var variant = new InferenceSession(variantPath, options);
        double bestOriginal = double.MaxValue, bestVariant = double.MaxValue;
        for (int r = 0; r < 8; r++)
        {
            double a = Time(original, images), b = Time(variant, images);
            if (r > 0) (bestOriginal, bestVariant) = (Math.Min(bestOriginal, a), Math.Min(bestVariant, b));
        }
        return bestOriginal / bestVariant;
    }

    private static double Time(InferenceSession session, Dataset images)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(images.Batch([0]).Data, [1, .. images.SampleShape.Select(d => (long)d)]);
        var clock = Stopwatch.StartNew();
        using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        return clock.Elapsed.TotalMilliseconds;
    }
}
