// `--images DIR` on eval, quantize, prune and train: MNIST digits written as PNG class folders give the accuracy the
// Evaluator gives on the same samples, quantize and prune report fidelity to the original (and warn when accuracy on
// labelled images falls more than ten points), train learns from folders, and bad image options or files are
// one-line errors that write nothing.
using System.Text.Json;
using Condense.Data;
using Condense.Formats;
using Condense.Nn;
using Condense.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Tests.Cli;

public sealed class ImageCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-images").FullName;
    private static readonly Lazy<(Module Model, Dataset Test)> Trained = new(() =>
    {
        var (train, test) = Mnist.LoadEmbedded();
        var spec = ModelSpec.Parse("lenet5");
        var model = spec.Build(seed: 5);
        Trainer.Fit(model, train.Take(3000), null, TrainOptions.For(spec) with { Epochs = 1, Seed = 5, AugmentShift = 0 });
        return (model, test.Take(120));
    });

    public void Dispose() => Directory.Delete(_dir, true);

    private string SaveModel()
    {
        string path = Path.Combine(_dir, "lenet5.onnx");
        ModelFile.Save(Trained.Value.Model, path, [1, 28, 28]);
        return path;
    }

    // The samples as 8-bit gray PNGs, in class folders when labelled.
    private string WritePngs(Dataset data, string name, bool labelled = true)
    {
        string folder = Path.Combine(_dir, name);
        for (int i = 0; i < data.Count; i++)
        {
            string classFolder = labelled ? Path.Combine(folder, data.Labels![i].ToString()) : folder;
            Directory.CreateDirectory(classFolder);
            var pixels = data.Features.AsSpan(i * 784, 784).ToArray().Select(v => (byte)Math.Round(v * 255f)).ToArray();
            using var image = Image.LoadPixelData<L8>(pixels, 28, 28);
            image.SaveAsPng(Path.Combine(classFolder, $"{i:D4}.png"));
        }
        return folder;
    }

    [Fact]
    public void EvalOnAClassFolderGivesTheEvaluatorsAccuracy()
    {
        string model = SaveModel();
        var test = Trained.Value.Test;
        // Class folders 0…9 hold every digit here, so folder names are the labels.
        Assert.Equal(10, test.NumClasses);
        var r = CliRunner.Run("eval", model, "--images", WritePngs(test, "digits"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var metrics = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("metrics");
        Assert.Equal(Evaluator.Evaluate(Trained.Value.Model, test).Accuracy, metrics.GetProperty("accuracy").GetDouble(), 6);
        Assert.Equal(test.Count, metrics.GetProperty("images").GetInt32());
    }

    [Fact]
    public void QuantizeAndPruneReportFidelityToTheOriginal()
    {
        string model = SaveModel();
        string images = WritePngs(Trained.Value.Test, "digits");
        string quantized = Path.Combine(_dir, "q.onnx");
        var q = CliRunner.Run("quantize", model, "--images", images, "-o", quantized, "--json");
        Assert.True(q.ExitCode == 0, q.Stderr);
        var after = JsonDocument.Parse(q.Stdout).RootElement.GetProperty("after");
        Assert.InRange(after.GetProperty("fidelity").GetProperty("cosine_mean").GetDouble(), 0.98, 1.0);
        Assert.InRange(after.GetProperty("fidelity").GetProperty("top1_agreement").GetDouble(), 0.9, 1.0);
        Assert.True(File.Exists(quantized));
        Assert.False(JsonDocument.Parse(q.Stdout).RootElement.TryGetProperty("warnings", out _));
        // The timings name what ran them: the integer engine when it takes the file, else the float simulation.
        bool integer = Condense.Inference.InferenceEngine.Compile(ModelFile.Load(quantized)).IsInteger;
        Assert.Equal(integer ? "integer" : "float simulation", after.GetProperty("engine").GetString());
        Assert.Equal("float", JsonDocument.Parse(q.Stdout).RootElement.GetProperty("before").GetProperty("engine").GetString());

        string pruned = Path.Combine(_dir, "p.onnx");
        var p = CliRunner.Run("prune", model, "--images", images, "--structured", "--ratio", "0.5", "-o", pruned, "--json");
        Assert.True(p.ExitCode == 0, p.Stderr);
        var json = JsonDocument.Parse(p.Stdout).RootElement;
        Assert.True(json.GetProperty("after").GetProperty("parameters").GetInt64() < json.GetProperty("before").GetProperty("parameters").GetInt64());
        Assert.Equal(ModelSummaryParameters(pruned), json.GetProperty("after").GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void APruneThatCostsMoreThanTenPointsOnLabelledImagesSaysSo()
    {
        var r = CliRunner.Run("prune", SaveModel(), "--images", WritePngs(Trained.Value.Test, "digits"), "--sparsity", "0.99",
            "-o", Path.Combine(_dir, "gutted.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var warnings = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Contains(warnings, w => w.Contains("points below the original model", StringComparison.Ordinal));
        Assert.Contains(r.Stderr.Split('\n'), l => l.StartsWith("warning: ", StringComparison.Ordinal));
    }

    [Fact]
    public void StructuredPruningChoosesFiltersOnCalibrationImages()
    {
        string model = SaveModel();
        var test = Trained.Value.Test;
        int half = test.Count / 2;
        string evaluation = WritePngs(test.Take(half), "evaluation"), calibration = WritePngs(test.Select([.. Enumerable.Range(half, half)]), "calibration");
        double Cosine(params string[] extra)
        {
            var r = CliRunner.Run(["prune", model, "--images", evaluation, "--structured", "--ratio", "0.5", "-o", Path.Combine(_dir, "p.onnx"),
                "--json", .. extra]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("after").GetProperty("fidelity").GetProperty("cosine_mean").GetDouble();
        }
        double byNorm = Cosine("--skip-residual"), calibrated = Cosine("--calibration", calibration);
        Assert.True(1 - calibrated < 0.5 * (1 - byNorm), $"cosine to the original: {calibrated} calibrated, {byNorm} by norm");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", model, "--images", evaluation, "--calibration", calibration),
            "--calibration chooses the filters that --structured removes");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", model, "--images", evaluation, "--structured", "--calibration", calibration, "--norm", "l1"),
            "--norm");
    }

    [Fact]
    public void ASensitivityAllocationSpreadsTheSparsityOverTheLayersAndKeepsMoreOfTheOutputs()
    {
        var (model, calibration, evaluation) = PruneSet();
        JsonElement Prune(params string[] extra) => PruneJson(["prune", model, "--images", evaluation, "--sparsity", "0.8", .. extra]);
        var uniform = Prune();
        var allocated = Prune("--allocation", "sensitivity", "--calibration", calibration, "--sensitivity-samples", "16");
        Assert.Equal(("uniform", "sensitivity"), (uniform.GetProperty("allocation").GetString(), allocated.GetProperty("allocation").GetString()));
        var tensors = allocated.GetProperty("tensors").EnumerateArray().ToList();
        Assert.True(tensors.Select(t => t.GetProperty("sparsity").GetDouble()).Distinct().Count() > 1, "one sparsity for every layer");
        long parameters = tensors.Sum(t => t.GetProperty("parameters").GetInt64());
        long zeros = tensors.Sum(t => t.GetProperty("parameters").GetInt64() - t.GetProperty("nonzero_parameters").GetInt64());
        Assert.InRange((double)zeros / parameters, 0.8, 0.81);
        double Cosine(JsonElement json) => json.GetProperty("after").GetProperty("fidelity").GetProperty("cosine_mean").GetDouble();
        Assert.True(Cosine(allocated) > Cosine(uniform), $"cosine to the original: {Cosine(allocated)} by sensitivity, {Cosine(uniform)} uniform");
        // Without --calibration, every other image calibrates and the rest are measured.
        Assert.Equal(20, Prune("--allocation", "sensitivity", "--sensitivity-samples", "8").GetProperty("after").GetProperty("images").GetInt32());
    }

    [Fact]
    public void StructuredPruningSpreadsTheRatioOverTheGroupsBySensitivity()
    {
        var (model, calibration, evaluation) = PruneSet();
        JsonElement Prune(params string[] extra) =>
            PruneJson(["prune", model, "--images", evaluation, "--structured", "--ratio", "0.7", "--calibration", calibration, .. extra]);
        var uniform = Prune();
        var spread = Prune("--allocation", "sensitivity", "--sensitivity-samples", "16");
        Assert.Equal(("uniform", "sensitivity"), (uniform.GetProperty("allocation").GetString(), spread.GetProperty("allocation").GetString()));
        // Every group of the uniform cut lost half its channels; the spread cut's groups lost different shares.
        static double[] Shares(JsonElement json) => [.. json.GetProperty("structural_changes").EnumerateArray()
            .Select(c => 1 - (double)c.GetProperty("channels_after").GetInt32() / c.GetProperty("channels_before").GetInt32())];
        Assert.All(Shares(uniform), share => Assert.InRange(share, 0.65, 0.75));
        Assert.True(Shares(spread).Max() - Shares(spread).Min() > 0.1, string.Join(", ", Shares(spread)));
        static double Cosine(JsonElement json) => json.GetProperty("after").GetProperty("fidelity").GetProperty("cosine_mean").GetDouble();
        Assert.True(Cosine(spread) > Cosine(uniform),
            $"cosine to the original: {Cosine(spread)} by sensitivity, {Cosine(uniform)} uniform; shares {string.Join(", ", Shares(spread))}");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", model, "--images", evaluation, "--structured", "--ratio", "0.95", "--allocation", "sensitivity"),
            "a ratio of 95 % is out of its reach");
    }

    // The trained LeNet-5, 40 test digits to calibrate on and the next 40 to measure, as PNG folders.
    private (string Model, string Calibration, string Evaluation) PruneSet()
    {
        var test = Trained.Value.Test;
        return (SaveModel(), WritePngs(test.Take(40), "calibration"), WritePngs(test.Select([.. Enumerable.Range(40, 40)]), "evaluation"));
    }

    // Runs a prune command with its output in the test folder and returns its --json result.
    private JsonElement PruneJson(string[] args)
    {
        var r = CliRunner.Run([.. args, "-o", Path.Combine(_dir, "p.onnx"), "--json"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [Fact]
    public void AModelFixedAtBatchOneComesOutWithADynamicBatch()
    {
        var graph = ModelFile.Load(SaveModel()).Graph;
        graph.Inputs[0] = graph.Inputs[0] with { Shape = [1, 1, 28, 28] };
        graph.Outputs[0] = graph.Outputs[0] with { Shape = [1, 10] };
        string fixedBatch = Path.Combine(_dir, "fixed.onnx"), output = Path.Combine(_dir, "fixed.int8.onnx");
        ModelFile.Save(graph, fixedBatch);
        Assert.Equal(1, ModelFile.Load(fixedBatch).Graph.Inputs[0].Shape[0]);
        var r = CliRunner.Run("quantize", fixedBatch, "--images", WritePngs(Trained.Value.Test.Take(20), "digits"), "-o", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("made it dynamic", r.Stdout);
        Assert.Equal(-1, ModelFile.Load(output).Graph.Inputs[0].Shape[0]);
    }

    [Fact]
    public void DistillRecoversAPrunedStudentWithoutLabels()
    {
        string model = SaveModel(), output = Path.Combine(_dir, "student.onnx");
        string images = WritePngs(Trained.Value.Test, "flat", labelled: false);
        var r = CliRunner.Run("distill", "--teacher", model, "--images", images, "--student-prune", "0.5", "-e", "4", "--lr", "1e-3", "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        double before = json.GetProperty("before").GetProperty("cosine_mean").GetDouble();
        double after = json.GetProperty("after").GetProperty("cosine_mean").GetDouble();
        // The filters were chosen on the images and their readers refitted: the cut alone stays close, and distillation keeps it so.
        Assert.True(before > 0.95 && after > before - 0.01, $"cosine to the teacher {before} after the cut, {after} after distillation");
        Assert.Equal(Trained.Value.Test.Count / 5, json.GetProperty("evaluation_images").GetInt32());
        Assert.True(ModelSummaryParameters(output) < ModelSummaryParameters(model));
        CliRunner.AssertOneLineError(CliRunner.Run("distill", "--teacher", model, "--images", images, "--student-prune", "0.5", "--temperature", "2"),
            "--temperature does not apply to image distillation");
    }

    private static long ModelSummaryParameters(string path) => Condense.Reports.ModelSummary.Of(ModelFile.Load(path)).Parameters;

    [Fact]
    public void TrainLearnsFromClassFolders()
    {
        var (train, test) = Mnist.LoadEmbedded();
        string trainImages = WritePngs(train.Take(2000), "train"), testImages = WritePngs(test.Take(200), "test");
        string output = Path.Combine(_dir, "trained.safetensors");
        var r = CliRunner.Run("train", "-m", "lenet5", "--images", trainImages, "--test-images", testImages, "-e", "3", "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.InRange(JsonDocument.Parse(r.Stdout).RootElement.GetProperty("accuracy").GetDouble(), 0.5, 1.0);
    }

    [Fact]
    public void UnlabelledImagesNeedAReferenceAndBadInputIsOneLine()
    {
        string model = SaveModel();
        string flat = WritePngs(Trained.Value.Test.Take(6), "flat", labelled: false);
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--images", flat), "give --reference MODEL");
        var withReference = CliRunner.Run("eval", model, "--images", flat, "--reference", model, "--json");
        Assert.True(withReference.ExitCode == 0, withReference.Stderr);
        var fidelity = JsonDocument.Parse(withReference.Stdout).RootElement.GetProperty("metrics").GetProperty("fidelity");
        Assert.Equal(1, fidelity.GetProperty("cosine_mean").GetDouble(), 6);

        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--resize", "10"), "--resize only applies with --images");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--images", flat, "--reference", model, "--crop", "abc"), "--crop expects N or HxW");
        File.WriteAllText(Path.Combine(flat, "broken.png"), "not a png");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--images", flat, "--reference", model), "broken.png");
        var skipped = CliRunner.Run("eval", model, "--images", flat, "--reference", model, "--skip-bad-images");
        Assert.True(skipped.ExitCode == 0, skipped.Stderr);
        Assert.Contains("skipped 1 unreadable", skipped.Stdout + skipped.Stderr);
    }
}
