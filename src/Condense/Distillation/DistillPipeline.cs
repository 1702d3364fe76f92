// A whole distillation run, as the CLI's `distill` command does it: the student trained from the
// labels alone and the same student distilled from the teacher, with the same epochs, optimizer and
// seed, measured side by side with the teacher (accuracy, parameters, file size, latency).
using Condense.Formats;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Reports;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>One model of the comparison.</summary>
public sealed record DistillRow(string Name, string Description, ModelMetrics Metrics);

/// <summary>The outcome of <see cref="DistillPipeline.Run"/>.</summary>
public sealed record DistillReport(IReadOnlyList<DistillRow> Rows, float Temperature, float Alpha, int Epochs, double Seconds);

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
        var allowed = new HashSet<string> { OpTypes.Gemm, OpTypes.MatMul, OpTypes.Relu, OpTypes.Tanh, OpTypes.Sigmoid, OpTypes.Dropout, OpTypes.Flatten, OpTypes.Identity };
        var other = teacher.Graph.Nodes.FirstOrDefault(n => !allowed.Contains(n.OpType));
        if (gemms.Count == 0 || other is not null)
            throw new CondenseException($"--student-width needs an MLP teacher (Linear layers and activations); found {other?.OpType ?? "no Linear layer"}");
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
    /// Trains one student from labels only and another (built the same way) by distillation, measures both
    /// next to the teacher, and saves the distilled student to <paramref name="output"/> if given.
    /// </summary>
    public static (Module Student, DistillReport Report) Run(GraphModule teacher, Func<Module> newStudent, Dataset train, Dataset test,
        DistillOptions options, string? output = null, IProgress<TrainProgress>? progress = null, double timingSeconds = 0.3)
    {
        options.Validate();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int[] sample = train.SampleShape;
        string dir = Directory.CreateTempSubdirectory("condense-distill-").FullName;
        try
        {
            var rows = new List<DistillRow> { new("teacher", "the model given", Measure(teacher, test, sample, Path.Combine(dir, "teacher.safetensors"), timingSeconds)) };
            var labelsOnly = newStudent();
            Trainer.Fit(labelsOnly, train, null, options.Train, progress);
            rows.Add(new("student (labels)", $"trained on labels only, {options.Train.Epochs} epochs", Measure(labelsOnly, test, sample, Path.Combine(dir, "labels.safetensors"), timingSeconds)));
            var student = newStudent();
            Distiller.Distill(student, teacher, train, null, options, progress);
            string path = output ?? Path.Combine(dir, "distilled.safetensors");
            rows.Add(new("student (distilled)", $"T = {options.Temperature}, α = {options.Alpha}, {options.Train.Epochs} epochs", Measure(student, test, sample, path, timingSeconds)));
            return (student, new DistillReport(rows, options.Temperature, options.Alpha, options.Train.Epochs, watch.Elapsed.TotalSeconds));
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
