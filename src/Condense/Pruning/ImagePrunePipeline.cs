// One-shot pruning of an image model measured on images: weights zeroed by the options (magnitude, N:M, …) or whole
// filters removed (StructuredPruning), then the float original and the pruned model measured on the evaluation images —
// accuracy when they are labelled and the model classifies, fidelity of the outputs to the original's always
// (Inference/ImageEvaluation). Recovering without labels is feature distillation from the original (Distillation/).
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Reports;

namespace Condense.Pruning;

/// <summary>The outcome of pruning an image model. Its JSON (ReportJson) is what `condense prune --images --json` prints.</summary>
/// <param name="Method">magnitude, nm, threshold, random or structured.</param>
/// <param name="Sparsity">Zero share of the prunable weights after the pass (for structured: the share of parameters removed).</param>
/// <param name="NonzeroParameters">Parameters left non-zero.</param>
/// <param name="Before">The original measured on the evaluation images.</param>
/// <param name="After">The pruned model measured on them, its fidelity to the original included.</param>
/// <param name="Seconds">Time of the pass and its measurement.</param>
public sealed record ImagePruneReport(
    [property: JsonPropertyOrder(0)] string Method,
    [property: JsonPropertyOrder(1)] double Sparsity,
    [property: JsonPropertyOrder(2)] long NonzeroParameters,
    [property: JsonPropertyOrder(4)] ImageMetrics Before,
    [property: JsonPropertyOrder(5)] ImageMetrics After,
    [property: JsonPropertyOrder(6)] double Seconds)
{
    /// <summary>Images per model call (1 when the model's batch dimension is baked in).</summary>
    [JsonPropertyOrder(3)]
    public int BatchSize { get; init; }

    /// <summary>Structured pruning: the channel groups cut; null otherwise.</summary>
    [JsonPropertyOrder(7)]
    public IReadOnlyList<LayerChange>? StructuralChanges { get; init; }

    /// <summary>Structured pruning: groups left whole, with the reason.</summary>
    [JsonPropertyOrder(8)]
    public IReadOnlyList<string>? Skipped { get; init; }

    /// <summary>Unstructured pruning: how the sparsity was spread, "uniform" or "sensitivity"; null for structured pruning.</summary>
    [JsonPropertyOrder(1)]
    public string? Allocation { get; init; }

    /// <summary>Unstructured pruning: every pruned tensor, parameters and non-zeros before and after; null for structured pruning.</summary>
    [JsonPropertyOrder(9)]
    public IReadOnlyList<PrunedTensor>? Tensors { get; init; }
}

/// <summary>The pruning pass for image models.</summary>
public static class ImagePrunePipeline
{
    /// <summary>
    /// Zeroes the weights <paramref name="options"/> choose in a copy of <paramref name="model"/> (magnitude-based methods:
    /// scores calibrated on data are for transformer Linear layers, see <see cref="Pruner"/>) and measures the original and
    /// the pruned model on <paramref name="evaluation"/>. The input model is not changed. A
    /// <see cref="SparsityAllocation.Sensitivity"/> allocation measures each tensor pruned alone by the cosine of the outputs
    /// on the first <see cref="PruneOptions.SensitivitySamples"/> images of <paramref name="calibration"/>, reported to
    /// <paramref name="sweepProgress"/>.
    /// </summary>
    public static (GraphModule Model, ImagePruneReport Report) Apply(GraphModule model, Dataset evaluation, PruneOptions options,
        int batchSize = 8, IProgress<int>? progress = null, Dataset? calibration = null, IProgress<(int Done, int Total)>? sweepProgress = null)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var pruned = new GraphModule(model.Graph.Clone());
        string input = model.Graph.Inputs[0].Name;
        var loss = options.Allocation == SparsityAllocation.Sensitivity && calibration is { Count: > 0 }
            ? SensitivityAllocation.OutputCosineLoss(pruned, calibration.Take(options.SensitivitySamples).Feeds(input, batchSize))
            : null;
        var masks = Pruner.Prune(pruned, options, calibration is null ? null : () => calibration.Feeds(input, batchSize), loss, sweepProgress);
        if (masks.Entries.Count == 0) throw new CondenseException("no weight to prune: all were excluded or the model has no Linear or Conv layer");
        var summary = ModelSummary.Of(pruned);
        var (before, after) = Measure(model, pruned, evaluation, batchSize, progress);
        return (pruned, new ImagePruneReport(options.Method.ToString().ToLowerInvariant(), summary.Sparsity, summary.NonzeroParameters,
            before, after, clock.Elapsed.TotalSeconds)
        {
            BatchSize = batchSize, Allocation = options.Allocation.ToString().ToLowerInvariant(),
            Tensors = [.. masks.Entries.Select(e => PrunedTensor.Of(model, e.Target))],
        });
    }

    /// <summary>
    /// Removes the fraction <see cref="PruneRun.Ratio"/> of the filters of every prunable channel group (of the layers
    /// <paramref name="run"/>'s <see cref="PruneOptions.Include"/> and <see cref="PruneOptions.Exclude"/> leave) from a copy of
    /// <paramref name="model"/> and measures both on <paramref name="evaluation"/>: by <see cref="PruneRun.Norm"/> (residual groups
    /// together unless not <see cref="PruneRun.PruneJoined"/>, see <see cref="StructuredPruning"/>), or, given
    /// <paramref name="calibration"/> images, chosen on them with the layers reading them refitted (<see cref="CalibratedFilters"/>;
    /// residual groups stay whole); kept channels rounded to <see cref="PruneRun.ChannelMultiple"/>. <paramref name="progress"/>
    /// hears the evaluation images measured, <paramref name="cutProgress"/> the calibrated cut's percent done. With
    /// <see cref="SparsityAllocation.Sensitivity"/> (needs <paramref name="calibration"/>) the ratio is spread over the groups by
    /// <see cref="FilterAllocation"/>, each group's cuts measured by the cosine of the outputs on the first
    /// <see cref="PruneOptions.SensitivitySamples"/> calibration images (at most half of them) and refitted on the others
    /// (<paramref name="sweepProgress"/> hears the measurements); the final cut is refitted on them all.
    /// </summary>
    public static (GraphModule Model, ImagePruneReport Report) ApplyStructured(GraphModule model, Dataset evaluation, PruneRun run,
        int batchSize = 8, IProgress<int>? progress = null, Dataset? calibration = null, IProgress<int>? cutProgress = null,
        IProgress<(int Done, int Total)>? sweepProgress = null)
    {
        var clock = Stopwatch.StartNew();
        string input = model.Graph.Inputs[0].Name;
        var (include, exclude) = (run.Options.Include, run.Options.Exclude);
        bool spread = run.Options.Allocation == SparsityAllocation.Sensitivity;
        if (spread && calibration is null) throw new CondenseException("filters spread by sensitivity are chosen on calibration images: give them");
        var options = new FilterCutOptions { ChannelMultiple = run.ChannelMultiple, Include = include, Exclude = exclude };
        var result = calibration is null
            ? StructuredPruning.Remove(model, run.Ratio, run.Norm, include, exclude, run.PruneJoined, run.ChannelMultiple)
            : !spread ? CalibratedFilters.Remove(model, run.Ratio, () => calibration.Feeds(input, batchSize), options, cutProgress)
            : Spread(model, run, calibration, batchSize, options, sweepProgress, cutProgress);
        if (result.Changes.Count == 0)
            throw new CondenseException($"no filter to remove: {(result.Skipped.Count == 0 ? "the model has no prunable layer" : result.Skipped[0])}");
        var summary = ModelSummary.Of(result.Model);
        var (before, after) = Measure(model, result.Model, evaluation, batchSize, progress);
        double removed = 1 - (double)after.Parameters / Math.Max(1, before.Parameters);
        return (result.Model, new ImagePruneReport(calibration is null ? "structured" : "structured, calibrated", removed, summary.NonzeroParameters,
            before, after, clock.Elapsed.TotalSeconds)
        {
            BatchSize = batchSize, StructuralChanges = result.Changes, Skipped = result.Skipped,
            Allocation = run.Options.Allocation.ToString().ToLowerInvariant(),
        });
    }

    private static StructuredResult Spread(GraphModule model, PruneRun run, Dataset calibration, int batchSize, FilterCutOptions options,
        IProgress<(int Done, int Total)>? sweepProgress, IProgress<int>? cutProgress)
    {
        if (calibration.Count < 2) throw new CondenseException($"filters spread by sensitivity need at least 2 calibration images, got {calibration.Count}");
        string input = model.Graph.Inputs[0].Name;
        int measured = Math.Min(run.Options.SensitivitySamples, calibration.Count / 2);
        var (probe, refit) = (calibration.Take(measured), calibration.Select([.. Enumerable.Range(measured, calibration.Count - measured)]));
        return FilterAllocation.Remove(model, run.Ratio, () => calibration.Feeds(input, batchSize), options,
            SensitivityAllocation.OutputCosineLoss(model, probe.Feeds(input, batchSize)), () => refit.Feeds(input, batchSize), sweepProgress,
            cutProgress).Result;
    }

    private static (ImageMetrics Before, ImageMetrics After) Measure(GraphModule model, GraphModule pruned, Dataset evaluation, int batchSize,
        IProgress<int>? progress)
    {
        if (evaluation.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 images, got {evaluation.Count}");
        var (before, reference) = ImageEvaluation.MeasureOutputs(model, null, evaluation, null, batchSize, timingSeconds: 0.3);
        var after = ImageEvaluation.MeasureOutputs(pruned, reference, evaluation, null, batchSize, progress, timingSeconds: 0.3).Metrics;
        return (before, after);
    }
}
