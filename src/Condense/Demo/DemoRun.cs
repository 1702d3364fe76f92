// The `condense demo` pipeline as a library call, the whole story on one data set: train a teacher;
// prune it (the classic threshold rule, 90% magnitude, 50% structured); quantize it to int8; distil it
// into a small student; and combine distil → prune → quantize; beside them (full run only), LeNet-5
// trained from the labels. Every model is saved, measured again from its file, and reported in one
// table, as JSON, as Markdown and as a self-contained HTML page with plots (DemoHtml). A student of the same shape
// trained from the labels alone gives the distilled student's curves a baseline. An interrupted run takes back what
// it wrote.
using Condense.Formats;
using System.Text.Json;
using System.Text.Json.Serialization;
using Condense.Inference;
using Condense.Onnx;
using Condense.Data;
using Condense.Distillation;
using Condense.Graph;
using Condense.Nn;
using Condense.Plots;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Reports;
using Condense.Training;

namespace Condense.Demo;

/// <summary>Options of the demo.</summary>
public sealed record DemoOptions
{
    /// <summary>Folder for the models and reports (created if missing).</summary>
    public string OutputDirectory { get; init; } = "condense-demo";
    /// <summary>A short smoke run (few epochs, short timings) for CI.</summary>
    public bool Quick { get; init; }
    /// <summary>The teacher: the large model trained first and compressed (Hinton et al.'s MNIST teacher).</summary>
    public string Model { get; init; } = "mlp:784-1200-1200-10,dropout=0.5,input-dropout=0.2";
    /// <summary>The small student distilled from the teacher.</summary>
    public string Student { get; init; } = "mlp:784-30-10";
    /// <summary>The student of the combined pipeline (distil → prune → quantize).</summary>
    public string CombinedStudent { get; init; } = "mlp:784-300-100-10";
    /// <summary>
    /// A convolutional network trained from the labels for comparison (not a compression of the teacher: a
    /// smaller architecture for the same task); null leaves it out. The quick run always leaves it out.
    /// </summary>
    public string? ConvModel { get; init; } = "lenet5";
    /// <summary>Seed of everything random.</summary>
    public ulong Seed { get; init; }
    /// <summary>The command line that started the run, shown in the HTML report (null: not shown).</summary>
    public string? CommandLine { get; init; }
}

/// <summary>One model of the demo with its measured figures.</summary>
public sealed record DemoVariant(string Name, string Description, string File, ModelMetrics Metrics, double CompressionRatio);

/// <summary>The demo's outcome.</summary>
public sealed record DemoReport(string Data, int TrainSamples, int TestSamples, IReadOnlyList<DemoVariant> Variants,
    double TrainSeconds, double TrainSamplesPerSecond, string JsonReport, string MarkdownReport)
{
    /// <summary>The self-contained HTML report (its plots as PNG and SVG files in the plots folder beside it).</summary>
    public string? HtmlReport { get; init; }
}

/// <summary>Runs the demo.</summary>
public static class DemoRun
{
    /// <summary>
    /// Trains, compresses, saves, measures and reports. <paramref name="progress"/> sees each training batch. When
    /// <paramref name="cancellationToken"/> fires (checked at every training batch and between steps), the files
    /// written and the folders created so far are removed and <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    public static DemoReport Run(Dataset train, Dataset test, DemoOptions options, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var created = new CreatedFiles();
        try
        {
            created.CreateFolder(options.OutputDirectory);
            return Run(train, test, options, new CancellingProgress(progress, cancellationToken), created, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            created.RemoveAll();
            throw;
        }
    }

    private static DemoReport Run(Dataset train, Dataset test, DemoOptions options, IProgress<TrainProgress> progress, CreatedFiles created,
        CancellationToken cancellationToken)
    {
        var runWatch = System.Diagnostics.Stopwatch.StartNew();
        string Path(string name) => System.IO.Path.Combine(options.OutputDirectory, name + ".safetensors");
        int[] sample = train.SampleShape;
        double timing = options.Quick ? 0.05 : 0.5;
        int epochs = options.Quick ? 1 : 30, finetune = options.Quick ? 1 : 3, studentEpochs = options.Quick ? 2 : 20;

        // The teacher: the large model everything else is compressed from.
        var spec = ModelSpec.Parse(options.Model);
        var recipe = new TrainOptions { Epochs = epochs, Seed = options.Seed };
        var model = spec.Build(options.Seed);
        var training = Trainer.Fit(model, train, test, recipe, TrainProgress.Named(progress, $"training teacher {spec}"));
        string teacherFile = Path("teacher");
        ModelFile.Save(model, teacherFile, sample, spec.ToString());
        created.Wrote(teacherFile);
        var teacher = ModelFile.Load(teacherFile);
        cancellationToken.ThrowIfCancellationRequested();
        var teacherMetrics = ModelMetrics.Measure(teacher, test, sample, teacherFile, timing);
        var variants = new List<DemoVariant> { new("teacher", $"{spec}, {epochs} epochs SGD", teacherFile, teacherMetrics, 1.0) };
        // Each variant is added right after its file is saved: the file is recorded as the run's, and the next step
        // starts only if the run was not interrupted meanwhile (training batches check as well).
        void Add(string name, string description, string file, Module runner, ModelSummary? summary = null)
        {
            created.Wrote(file);
            cancellationToken.ThrowIfCancellationRequested();
            var m = ModelMetrics.Measure(runner, test, sample, file, timing, summary);
            variants.Add(new(name, description, file, m, (double)teacherMetrics.FileBytes / m.FileBytes));
        }

        // Pruning: the classic rule w = 0 where |w| < t, with t one standard deviation of the weights
        // (Han et al. 2015's quality parameter 1), as is; 90% global magnitude and 50% structured, fine-tuned.
        float threshold = WeightStd(teacher);
        var pruneRuns = new (string Name, PruneRun Run)[]
        {
            ("threshold", new PruneRun { Options = new PruneOptions { Method = PruneMethod.Threshold, Threshold = threshold } }),
            ("pruned-90", new PruneRun { Options = new PruneOptions { Sparsity = 0.9, Global = true }, FinetuneEpochs = finetune,
                Finetune = recipe with { Epochs = finetune } }),
            ("structured-50", new PruneRun { Structured = true, Ratio = 0.5, FinetuneEpochs = finetune,
                Finetune = recipe with { Epochs = finetune, LearningRate = 0.01f } }),
        };
        foreach (var (name, run) in pruneRuns)
        {
            var (pruned, report) = PrunePipeline.Apply(ModelFile.Load(teacherFile), train, test, run,
                TrainProgress.Named(progress, $"fine-tuning {name} (teacher {spec})"));
            ModelFile.Save(pruned.Graph, Path(name));
            string tuned = run.FinetuneEpochs > 0 ? $", {run.FinetuneEpochs} epochs fine-tuning" : ", no fine-tuning";
            Add(name, report.Method + tuned, Path(name), ModelFile.Load(Path(name)));
        }

        // Quantization: static int8 (per-channel weights, calibrated activations), run by the integer engine.
        SaveQuantized(ModelFile.Load(teacherFile), train, Path("int8"));
        var int8 = ModelFile.Load(Path("int8"));
        Add("int8", "static int8, per-channel weights, min-max calibration", Path("int8"), IntegerModel.Runner(int8), ModelSummary.Of(int8));

        // Distillation into a small student (Hinton et al. 2015): T = 4, α = 0.9.
        var distill = new DistillOptions { Train = new DistillOptions().Train with { Epochs = studentEpochs, Seed = options.Seed } };
        var student = ModelSpec.Parse(options.Student).Build(options.Seed);
        var studentTraining = Distiller.Distill(student, teacher, train, test, distill,
            TrainProgress.Named(progress, $"distilling student {options.Student}"));
        ModelFile.Save(student, Path("student"), sample, options.Student);
        Add("student", $"{options.Student} distilled, T = {distill.Temperature}, α = {distill.Alpha}, {studentEpochs} epochs",
            Path("student"), ModelFile.Load(Path("student")));

        // The baseline of the distilled student's curves: the same student, recipe and seed, trained from the labels alone.
        var labelsTraining = Trainer.Fit(ModelSpec.Parse(options.Student).Build(options.Seed), train, test, distill.Train,
            TrainProgress.Named(progress, $"training student {options.Student} from the labels"));
        cancellationToken.ThrowIfCancellationRequested();

        // All three: distil into a mid-size student, prune it 90% with fine-tuning, quantize it to int8.
        var combined = ModelSpec.Parse(options.CombinedStudent).Build(options.Seed);
        Distiller.Distill(combined, teacher, train, null, distill, TrainProgress.Named(progress, $"distilling combined {options.CombinedStudent}"));
        var graph = new GraphModule(GraphTracer.Trace(combined, sample));
        var (combinedPruned, _) = PrunePipeline.Apply(graph, train, test,
            new PruneRun
            {
                Options = new PruneOptions { Sparsity = 0.9, Global = true }, FinetuneEpochs = finetune, Finetune = recipe with { Epochs = finetune },
            },
            TrainProgress.Named(progress, $"fine-tuning combined {options.CombinedStudent}"));
        SaveQuantized(combinedPruned, train, Path("combined"));
        var combinedModel = ModelFile.Load(Path("combined"));
        Add("combined", $"{options.CombinedStudent} distilled → 90% pruned → int8", Path("combined"),
            IntegerModel.Runner(combinedModel), ModelSummary.Of(combinedModel));

        // A convolutional network of the same task, trained with its default recipe (README "Convolutional networks").
        if (options.ConvModel is { } convText && !options.Quick)
        {
            var convSpec = ModelSpec.Parse(convText);
            var convRecipe = TrainOptions.For(convSpec) with { Seed = options.Seed };
            var conv = convSpec.Build(options.Seed);
            Trainer.Fit(conv, train, null, convRecipe, TrainProgress.Named(progress, $"training conv {convSpec}"));
            ModelFile.Save(conv, Path("conv"), sample, convSpec.ToString());
            Add("conv", $"{convSpec} trained from the labels, {convRecipe.Epochs} epochs SGD (lr {convRecipe.LearningRate}): "
                + "another architecture, not a compression",
                Path("conv"), ModelFile.Load(Path("conv")));
        }

        string json = System.IO.Path.Combine(options.OutputDirectory, "report.json");
        string markdown = System.IO.Path.Combine(options.OutputDirectory, "report.md");
        string html = System.IO.Path.Combine(options.OutputDirectory, "report.html");
        var result = new DemoReport(train.Name, train.Count, test.Count, variants, training.Seconds, training.SamplesPerSecond, json, markdown)
        {
            HtmlReport = html,
        };
        cancellationToken.ThrowIfCancellationRequested();
        AtomicFile.WriteText(created.Wrote(json), JsonSerializer.Serialize(result, ReportJson.Indented));
        AtomicFile.WriteText(created.Wrote(markdown), ToMarkdown(result));
        var curves = new TrainingCurve[]
        {
            new("teacher", training.Epochs), new("student, labels only", labelsTraining.Epochs), new("student, distilled", studentTraining.Epochs),
        };
        DemoHtml.Write(result, curves, options, created, runWatch.Elapsed.TotalSeconds);
        return result;
    }

    private static void SaveQuantized(GraphModule model, Dataset calibration, string path) =>
        ModelFile.Save(Quantizer.Quantize(model, calibration, new QuantizeOptions()).Model.Graph, path);

    // The standard deviation of all Linear weights: the threshold rule's scale.
    private static float WeightStd(GraphModule model)
    {
        var weights = Prunable.Find(model, new PruneOptions()).SelectMany(t => t.Parameter.Data).ToArray();
        double mean = weights.Average(v => (double)v);
        return (float)Math.Sqrt(weights.Average(v => (v - mean) * (v - mean)));
    }

    /// <summary>The report as a Markdown table.</summary>
    public static string ToMarkdown(DemoReport report)
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine("# Condense demo");
        w.AppendLine();
        w.AppendLine($"Data: {report.Data} ({report.TrainSamples} train, {report.TestSamples} test samples). "
            + $"Training: {report.TrainSeconds:F1} s ({report.TrainSamplesPerSecond:N0} samples/s).");
        w.AppendLine();
        w.AppendLine("| variant | accuracy | parameters | non-zero | size on disk | latency (batch 1) | throughput (batch 256) | compression |");
        w.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var v in report.Variants)
        {
            var m = v.Metrics;
            w.Append(System.FormattableString.Invariant(
                    $"| {v.Name} | {m.Accuracy * 100:F2} % | {m.Parameters:N0} | {m.NonzeroParameters:N0} | {m.FileBytes:N0} B "))
                .AppendLine(System.FormattableString.Invariant(
                    $"| {m.LatencyMsBatch1 * 1000:F1} µs | {m.ThroughputBatch256:N0}/s | {v.CompressionRatio:F1}× |"));
        }
        return w.ToString();
    }

    // Passes training progress on and stops the run at the next batch once cancellation is asked for.
    private sealed class CancellingProgress(IProgress<TrainProgress>? inner, CancellationToken cancellationToken) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value)
        {
            cancellationToken.ThrowIfCancellationRequested();
            inner?.Report(value);
        }
    }
}
