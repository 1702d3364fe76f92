// The figures every command reports for a model, measured, never assumed: accuracy and loss on a
// labelled set, parameter counts, the file's size on disk, batch-1 latency and batch-256 throughput.
using Condense.Data;
using Condense.Nn;
using Condense.Training;

namespace Condense.Reports;

/// <summary>Measured quality, size and speed of a model. JSON names are the CLI's documented keys.</summary>
public sealed record ModelMetrics(
    float Accuracy, float Loss, long Parameters, long NonzeroParameters, long FileBytes,
    double LatencyMsBatch1, double ThroughputBatch256)
{
    /// <summary>
    /// Evaluates <paramref name="model"/> on <paramref name="test"/> and times it; <paramref name="file"/> is its saved form
    /// (or null). <paramref name="summary"/> gives the parameter counts when the model that runs is not the one that holds
    /// the weights (an integer engine compiled from a graph).
    /// </summary>
    public static ModelMetrics Measure(Module model, Dataset test, int[] sampleShape, string? file, double timingSeconds = 0.5, ModelSummary? summary = null)
    {
        var eval = Evaluator.Evaluate(model, test);
        summary ??= ModelSummary.Of(model);
        var latency = Evaluator.MeasureSpeed(model, sampleShape, 1, timingSeconds);
        var throughput = Evaluator.MeasureSpeed(model, sampleShape, 256, timingSeconds);
        return new ModelMetrics(eval.Accuracy, eval.Loss, summary.Parameters, summary.NonzeroParameters,
            file is null ? 0 : SizeOnDisk(file), latency.MedianMilliseconds, throughput.SamplesPerSecond);
    }

    /// <summary>The size of the file <paramref name="path"/> names, following symbolic links to the file itself.</summary>
    public static long SizeOnDisk(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists && file.LinkTarget is null) return AtomicFile.Length(path);
        return file.LinkTarget is null ? file.Length : ((FileInfo?)file.ResolveLinkTarget(returnFinalTarget: true))?.Length ?? 0;
    }
}
