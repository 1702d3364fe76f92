// The `condense demo` pipeline as a library call: train the seed model on the data, save it,
// measure it, and write a JSON and Markdown report. Later compressions add their variants here.
using System.Text.Json;
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
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
        var reloaded = ModelFile.Load(file);
        var metrics = ModelMetrics.Measure(reloaded, test, train.SampleShape, file, options.Quick ? 0.05 : 0.5);
        var variants = new List<DemoVariant>
        {
            new("baseline", $"{spec}, {trainOptions.Epochs} epochs SGD", file, metrics, 1.0),
        };

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
