// The distillation pass, as the CLI's `distill` command runs it: the student trained from the labels
// alone and the same student distilled from the teacher, with the same epochs, optimizer and seed,
// measured side by side with the teacher (accuracy, parameters, checkpoint size, latency). The caller
// saves the distilled student and puts its file's size in the report (WithSavedStudent).
using System.Text.Json.Serialization;
using Condense.Formats;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Reports;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>One model of the comparison; in JSON its metrics sit beside its name.</summary>
public sealed record DistillRow(string Name, string Description, [property: JsonIgnore] ModelMetrics Metrics)
{
    // The JSON keys of a `condense distill --json` model row.
    [JsonInclude] internal float Accuracy => Metrics.Accuracy;
    [JsonInclude] internal float Loss => Metrics.Loss;
    [JsonInclude] internal long Parameters => Metrics.Parameters;
    [JsonInclude] internal long NonzeroParameters => Metrics.NonzeroParameters;
    [JsonInclude] internal long FileBytes => Metrics.FileBytes;
    [JsonInclude] internal double LatencyMsBatch1 => Metrics.LatencyMsBatch1;
    [JsonInclude] internal double ThroughputBatch256 => Metrics.ThroughputBatch256;
}

/// <summary>
/// The outcome of <see cref="DistillPipeline.Apply"/>: the teacher, the student trained on labels only and the distilled student, in
/// that order. Its JSON (ReportJson) is what `condense distill --json` prints.
/// </summary>
public sealed record DistillReport([property: JsonPropertyName("models"), JsonPropertyOrder(6)] IReadOnlyList<DistillRow> Rows,
    float Temperature, float Alpha, int Epochs, [property: JsonIgnore] double Seconds)
{
    /// <summary>The labels-only student's epochs (loss and accuracy per epoch), for its training curve.</summary>
    [JsonIgnore]
    public IReadOnlyList<EpochResult>? LabelsOnlyEpochs { get; init; }

    /// <summary>The distilled student's epochs, for its training curve.</summary>
    [JsonIgnore]
    public IReadOnlyList<EpochResult>? DistilledEpochs { get; init; }

    /// <summary>The distilled student's figures.</summary>
    [JsonIgnore]
    public ModelMetrics Student => Rows[^1].Metrics;

    /// <summary>The report with the distilled student's file size replaced by that of the file the caller saved.</summary>
    public DistillReport WithSavedStudent(long fileBytes) =>
        this with { Rows = [.. Rows.Take(Rows.Count - 1), Rows[^1] with { Metrics = Student with { FileBytes = fileBytes } }] };

    // The distilled student's figures at the top level, as `condense distill --json` prints them.
    [JsonInclude, JsonPropertyName("accuracy"), JsonPropertyOrder(3)] internal float StudentAccuracy => Student.Accuracy;
    [JsonInclude, JsonPropertyName("parameters"), JsonPropertyOrder(4)] internal long StudentParameters => Student.Parameters;
    [JsonInclude, JsonPropertyName("file_bytes"), JsonPropertyOrder(5)] internal long StudentFileBytes => Student.FileBytes;
}

/// <summary>Builds students and runs the comparison.</summary>
public static class DistillPipeline
{
    /// <summary>
    /// A student shaped like the teacher's MLP with every hidden layer <paramref name="width"/> times as wide
    /// (the teacher must be a chain of Linear layers with elementwise activations).
    /// </summary>
    public static ModelSpec ShrunkSpec(GraphModule teacher, double width)
    {
        if (!(width > 0 && width <= 1)) throw new CondenseException($"student width must be in (0, 1], got {width}");
        var gemms = teacher.Graph.Nodes.Where(n => n.OpType is OpTypes.Gemm or OpTypes.MatMul).ToList();
        var allowed = new HashSet<string>
        {
            OpTypes.Gemm, OpTypes.MatMul, OpTypes.Relu, OpTypes.Tanh, OpTypes.Sigmoid, OpTypes.Dropout, OpTypes.Flatten, OpTypes.Identity,
        };
        var other = teacher.Graph.Nodes.FirstOrDefault(n => !allowed.Contains(n.OpType));
        if (gemms.Count == 0 || other is not null)
            throw new CondenseException($"a narrower student needs an MLP teacher (Linear layers and activations); found {other?.OpType ?? "no Linear layer"}");
        var sizes = new List<int>();
        foreach (var (node, i) in gemms.Select((n, i) => (n, i)))
        {
            var w = teacher.Graph.Initializers[node.Inputs[1]];
            bool outFirst = node.OpType == OpTypes.Gemm && node.Int("transB", 0) != 0;
            int inputs = outFirst ? w.Shape[1] : w.Shape[0], outputs = outFirst ? w.Shape[0] : w.Shape[1];
            if (i == 0) sizes.Add(inputs);
            sizes.Add(i == gemms.Count - 1 ? outputs : Math.Max(1, (int)Math.Round(outputs * width)));
        }
        return new ModelSpec(sizes.ToArray());
    }

    /// <summary>A student made of the teacher itself with the weakest <paramref name="ratio"/> of its neurons removed.</summary>
    public static GraphModule PrunedCopy(GraphModule teacher, double ratio) => StructuredPruning.Remove(teacher, ratio).Model;

    /// <summary>
    /// Trains one student from labels only and another (built the same way) by distillation, and measures both next to the
    /// teacher; each model's size is that of its checkpoint, written to a temporary folder and removed.
    /// </summary>
    public static (Module Student, DistillReport Report) Apply(GraphModule teacher, Func<Module> newStudent, Dataset train, Dataset test,
        DistillOptions options, IProgress<TrainProgress>? progress = null, double timingSeconds = 0.3)
    {
        options.Validate();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int[] sample = train.SampleShape;
        string dir = Directory.CreateTempSubdirectory("condense-distill-").FullName;
        using var scratch = ProcessRole.Scratch(dir);
        try
        {
            var rows = new List<DistillRow>
            {
                new("teacher", "the model given", Measure(teacher, test, sample, Path.Combine(dir, "teacher.safetensors"), timingSeconds)),
            };
            var labelsOnly = newStudent();
            var labelsTraining = Trainer.Fit(labelsOnly, train, null, options.Train, progress);
            var labelsMetrics = Measure(labelsOnly, test, sample, Path.Combine(dir, "labels.safetensors"), timingSeconds);
            rows.Add(new("student (labels)", $"trained on labels only, {options.Train.Epochs} epochs", labelsMetrics));
            var student = newStudent();
            var distilledTraining = Distiller.Distill(student, teacher, train, null, options, progress);
            var metrics = Measure(student, test, sample, Path.Combine(dir, "distilled.safetensors"), timingSeconds);
            rows.Add(new("student (distilled)", $"T = {options.Temperature}, α = {options.Alpha}, {options.Train.Epochs} epochs", metrics));
            return (student, new DistillReport(rows, options.Temperature, options.Alpha, options.Train.Epochs, watch.Elapsed.TotalSeconds)
            {
                LabelsOnlyEpochs = labelsTraining.Epochs, DistilledEpochs = distilledTraining.Epochs,
            });
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static ModelMetrics Measure(Module model, Dataset test, int[] sample, string path, double timingSeconds)
    {
        if (model is GraphModule g) ModelFile.Save(g.Graph, path);
        else ModelFile.Save(model, path, sample);
        return ModelMetrics.Measure(model, test, sample, path, timingSeconds);
    }
}
