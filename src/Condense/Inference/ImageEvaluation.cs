// The figures of an image model: accuracy when the images are labelled and the model classifies, fidelity of its
// outputs to a reference model's on the same images when there are no labels (Reports/Fidelity on each image's
// output vector, plus how often both pick the same class when the model is a classifier), its size, batch-1 latency
// and batch-8 throughput, measured as TextEvaluation does for text.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Reports;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Each image's output (the model's first output, flattened) and the shape of one.</summary>
/// <param name="Rows">One vector per image, in the data's order.</param>
/// <param name="SampleShape">The output shape of one image, e.g. [1000] for class scores or [512, 1, 1] for features.</param>
public sealed record ImageOutputs(float[][] Rows, int[] SampleShape)
{
    /// <summary>True when the output is one score per class (a vector of at least two), so argmax is a prediction.</summary>
    public bool IsClassScores => SampleShape.Length == 1 && SampleShape[0] >= 2;
}

/// <summary>Measured quality, size and speed of an image model. JSON names are the CLI's documented keys.</summary>
/// <param name="Images">Images measured.</param>
/// <param name="Accuracy">Share of labelled images whose top class is the label; null without labels or class scores.</param>
/// <param name="Fidelity">Fidelity to the reference's outputs; null without a reference.</param>
/// <param name="Parameters">Parameter count.</param>
/// <param name="FileBytes">Size of its file on disk (0 when not saved).</param>
/// <param name="LatencyMsBatch1">Median milliseconds for one image.</param>
/// <param name="ThroughputBatch8">Images per second in batches of 8 (of 1 when the model cannot batch).</param>
public sealed record ImageMetrics(int Images, double? Accuracy, ImageFidelity? Fidelity, long Parameters, long FileBytes,
    double LatencyMsBatch1, double ThroughputBatch8)
{
    /// <summary>
    /// What ran the timings: "integer" (an integer engine), "float simulation" (a quantized graph its integer engines do not
    /// take, run in float with every quantization simulated), "integer Linear layers" (such a graph whose MatMuls and Gemms
    /// run on the integer GEMM: a transformer's) or "float".
    /// </summary>
    public string Engine { get; init; } = "float";
}

/// <summary>Runs and measures image models.</summary>
public static class ImageEvaluation
{
    /// <summary>
    /// Runs <paramref name="runner"/> (a model, or what <see cref="InferenceEngine.Compile"/> made of it) on every image of
    /// <paramref name="images"/>, <paramref name="batchSize"/> at a time (1 for a model whose batch dimension is baked in).
    /// </summary>
    public static ImageOutputs Outputs(Module runner, Dataset images, int batchSize = 8, IProgress<int>? progress = null)
    {
        if (batchSize < 1) throw new CondenseException($"batch size must be at least 1, got {batchSize}");
        runner.Eval();
        using var _ = GradMode.NoGrad();
        var rows = new float[images.Count][];
        int[] sampleShape = [];
        var indices = Enumerable.Range(0, images.Count).ToArray();
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, images.Count - start);
            var output = runner.Forward(images.Samples(indices.AsSpan(start, n)));
            if (output.Shape.Length == 0 || output.Shape[0] != n)
                throw new CondenseException($"the model gave an output of shape {Shape.Format(output.Shape)} for a batch of {n} images; "
                    + "its first dimension must be the batch");
            sampleShape = output.Shape[1..];
            int size = output.Size / n;
            for (int i = 0; i < n; i++) rows[start + i] = output.Data.AsSpan(i * size, size).ToArray();
            progress?.Report(start + n);
        }
        return new ImageOutputs(rows, sampleShape);
    }

    /// <summary>
    /// The images passed through a preprocessing graph (<paramref name="preprocess"/>, e.g. one that reorders channels and subtracts
    /// a mean image): a data set of its outputs, the labels kept.
    /// </summary>
    public static Dataset Transform(GraphModule preprocess, Dataset images, int batchSize = 8)
    {
        var outputs = Outputs(preprocess, images, batchSize);
        return new Dataset([.. outputs.Rows.SelectMany(r => r)], images.Labels, outputs.SampleShape, images.Name);
    }

    /// <summary>Fidelity of <paramref name="outputs"/> to <paramref name="reference"/>: cosines, neighbours, and top-1 agreement for class scores.</summary>
    public static ImageFidelity Compare(ImageOutputs outputs, ImageOutputs reference)
    {
        var f = Fidelity.Measure(outputs.Rows, reference.Rows);
        double? agreement = outputs.IsClassScores && reference.IsClassScores
            ? Enumerable.Range(0, outputs.Rows.Length).Average(i => ArgMax(outputs.Rows[i]) == ArgMax(reference.Rows[i]) ? 1.0 : 0.0)
            : null;
        return new ImageFidelity(f.CosineMean, f.CosineMin, f.TopKOverlap, f.Spearman)
        {
            Top1Agreement = agreement,
            RelativeError = Fidelity.RelativeError(outputs.Rows, reference.Rows),
        };
    }

    /// <summary>The share of images whose highest score is their label; null when unlabelled or the outputs are not class scores.</summary>
    public static double? Accuracy(ImageOutputs outputs, IReadOnlyList<int>? labels)
    {
        if (labels is null || !outputs.IsClassScores) return null;
        if (labels.Max() >= outputs.SampleShape[0])
            throw new CondenseException($"the images have {labels.Max() + 1} classes but the model scores {outputs.SampleShape[0]}");
        return Enumerable.Range(0, labels.Count).Average(i => ArgMax(outputs.Rows[i]) == labels[i] ? 1.0 : 0.0);
    }

    /// <summary>
    /// Accuracy (labelled images, class scores), fidelity to <paramref name="reference"/> (when given), size and speed of
    /// <paramref name="model"/>; <paramref name="file"/> is its saved form (or null). The integer engine runs it when it compiles.
    /// </summary>
    public static ImageMetrics Measure(GraphModule model, GraphModule? reference, Dataset images, string? file, int batchSize = 8,
        IProgress<int>? progress = null, double timingSeconds = 0.5) =>
        MeasureOutputs(model, reference is null ? null : Outputs(reference, images, batchSize), images, file, batchSize, progress, timingSeconds).Metrics;

    /// <summary>
    /// As <see cref="Measure"/>, against outputs already computed, and with the model's own outputs, so that a pass measures
    /// the original once and compares its result with those outputs.
    /// </summary>
    public static (ImageMetrics Metrics, ImageOutputs Outputs) MeasureOutputs(GraphModule model, ImageOutputs? reference, Dataset images,
        string? file, int batchSize = 8, IProgress<int>? progress = null, double timingSeconds = 0.5)
    {
        var compiled = InferenceEngine.Compile(model);
        var runner = compiled.Runner;
        var outputs = Outputs(runner, images, batchSize, progress);
        var fidelity = reference is null ? null : Compare(outputs, reference);
        var (latency, throughput) = Speed(runner, images, batchSize, timingSeconds);
        bool quantized = model.Graph.Nodes.Any(n => n.OpType is OpTypes.QuantizeLinear or OpTypes.DynamicQuantizeLinear);
        var metrics = new ImageMetrics(images.Count, Accuracy(outputs, images.Labels), fidelity, ModelSummary.Of(model).Parameters,
            file is null ? 0 : ModelMetrics.SizeOnDisk(file), latency, throughput)
        { Engine = compiled.IsInteger ? "integer" : !quantized ? "float"
            : runner is GraphModule { Graph: var g } && g.Nodes.Any(n => n.OpType == OpTypes.QuantizeMatMul) ? "integer Linear layers" : "float simulation" };
        return (metrics, outputs);
    }

    /// <summary>Median batch-1 milliseconds on the first image, and images per second in batches of up to 8.</summary>
    public static (double LatencyMs, double ImagesPerSecond) Speed(Module runner, Dataset images, int batchSize = 8, double timingSeconds = 0.5)
    {
        int n = Math.Min(8, batchSize);
        var indices = Enumerable.Range(0, n).Select(i => i % images.Count).ToArray();
        var one = images.Samples([0]);
        double latency = MedianTime.Milliseconds(runner, () => runner.Forward(one), timingSeconds);
        var several = images.Samples(indices);
        double batch = n == 1 ? latency : MedianTime.Milliseconds(runner, () => runner.Forward(several), timingSeconds);
        return (latency, n / (batch / 1000));
    }

    private static int ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
