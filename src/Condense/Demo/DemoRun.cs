// The `condense demo` pipeline as a library call: train the seed model on the data, save it, prune it
// three ways, measure every saved model, and write a JSON and Markdown report. Later compressions
// (quantization, distillation) add their variants here.
using System.Text.Json;
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
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
    /// <summary>The model trained as the baseline.</summary>
    public string Model { get; init; } = ModelSpec.Default;
    /// <summary>Seed of everything random.</summary>
    public ulong Seed { get; init; }
}

/// <summary>One model of the demo with its measured figures.</summary>
public sealed record DemoVariant(string Name, string Description, string File, ModelMetrics Metrics, double CompressionRatio);

/// <summary>The demo's outcome.</summary>
public sealed record DemoReport(string Data, int TrainSamples, int TestSamples, IReadOnlyList<DemoVariant> Variants,
    double TrainSeconds, double TrainSamplesPerSecond, string JsonReport, string MarkdownReport);

/// <summary>Runs the demo.</summary>
public static class DemoRun
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Trains, saves, measures and reports. <paramref name="progress"/> sees each training batch.</summary>
    public static DemoReport Run(Dataset train, Dataset test, DemoOptions options, IProgress<TrainProgress>? progress = null)
    {
        Directory.CreateDirectory(options.OutputDirectory);
        var spec = ModelSpec.Parse(options.Model);
        var trainOptions = new TrainOptions { Epochs = options.Quick ? 2 : 15, Seed = options.Seed };
        var model = spec.Build(options.Seed);
        var training = Trainer.Fit(model, train, test, trainOptions, progress);

        string file = Path.Combine(options.OutputDirectory, "baseline.safetensors");
        ModelFile.Save(model, file, train.SampleShape, spec.ToString());
        double timing = options.Quick ? 0.05 : 0.5;
        var baseline = ModelFile.Load(file);
        var metrics = ModelMetrics.Measure(baseline, test, train.SampleShape, file, timing);
        var variants = new List<DemoVariant>
        {
            new("baseline", $"{spec}, {trainOptions.Epochs} epochs SGD", file, metrics, 1.0),
        };

        // Pruning, each from the saved baseline: the classic threshold rule as is, then 90% global
        // magnitude and 50% structured removal, each with masked fine-tuning.
        int finetune = options.Quick ? 1 : 3;
        var pruned = new (string Name, PruneRun Run)[]
        {
            ("threshold", new PruneRun { Options = new PruneOptions { Method = PruneMethod.Threshold, Threshold = 0.05f } }),
            ("pruned-90", new PruneRun { Options = new PruneOptions { Sparsity = 0.9, Global = true }, FinetuneEpochs = finetune,
                Finetune = trainOptions with { Epochs = finetune } }),
            ("structured-50", new PruneRun { Structured = true, Ratio = 0.5, FinetuneEpochs = finetune,
                Finetune = trainOptions with { Epochs = finetune, LearningRate = 0.01f } }),
        };
        foreach (var (name, run) in pruned)
        {
            string path = Path.Combine(options.OutputDirectory, name + ".safetensors");
            var (_, pruneReport) = PrunePipeline.Run(ModelFile.Load(file), train, test, run, path, metrics.FileBytes, progress);
            var m = ModelMetrics.Measure(ModelFile.Load(path), test, train.SampleShape, path, timing);
            string epochs = run.FinetuneEpochs > 0 ? $", {run.FinetuneEpochs} epochs fine-tuning" : ", no fine-tuning";
            variants.Add(new(name, pruneReport.Method + epochs, path, m, (double)metrics.FileBytes / m.FileBytes));
        }

        // Quantization: static int8 (per-channel weights, calibrated activations), run by the integer engine.
        {
            string path = Path.Combine(options.OutputDirectory, "int8.safetensors");
            var (quantized, _) = Quantizer.Quantize(ModelFile.Load(file), train, new QuantizeOptions());
            ModelFile.Save(quantized.Graph, path);
            var saved = ModelFile.Load(path);
            var engine = IntegerModel.Runner(saved);
            var m = ModelMetrics.Measure(engine, test, train.SampleShape, path, timing, ModelSummary.Of(saved));
            variants.Add(new("int8", "static int8, per-channel weights, min-max calibration" + (engine is IntegerModel ? ", integer engine" : ""),
                path, m, (double)metrics.FileBytes / m.FileBytes));
        }

        string json = Path.Combine(options.OutputDirectory, "report.json");
        string markdown = Path.Combine(options.OutputDirectory, "report.md");
        var report = new DemoReport(train.Name, train.Count, test.Count, variants, training.Seconds, training.SamplesPerSecond, json, markdown);
        AtomicFile.WriteText(json, JsonSerializer.Serialize(report, JsonOptions));
        AtomicFile.WriteText(markdown, ToMarkdown(report));
        return report;
    }

    /// <summary>The report as a Markdown table.</summary>
    public static string ToMarkdown(DemoReport report)
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine("# Condense demo");
        w.AppendLine();
        w.AppendLine($"Data: {report.Data} ({report.TrainSamples} train, {report.TestSamples} test samples). Training: {report.TrainSeconds:F1} s ({report.TrainSamplesPerSecond:N0} samples/s).");
        w.AppendLine();
        w.AppendLine("| variant | accuracy | parameters | non-zero | size on disk | latency (batch 1) | throughput (batch 256) | compression |");
        w.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var v in report.Variants)
        {
            var m = v.Metrics;
            w.AppendLine(System.FormattableString.Invariant(
                $"| {v.Name} | {m.Accuracy * 100:F2} % | {m.Parameters:N0} | {m.NonzeroParameters:N0} | {m.FileBytes:N0} B | {m.LatencyMsBatch1 * 1000:F1} µs | {m.ThroughputBatch256:N0}/s | {v.CompressionRatio:F1}× |"));
        }
        return w.ToString();
    }
}
