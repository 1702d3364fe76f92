// An image student cut from its teacher and recovered by feature distillation, measured the way models without labels
// are measured: fidelity of the student's output features (flattened per image) to the teacher's on held-out images,
// right after the cut and after distillation. The student is the teacher with a share of its filters removed
// physically, so it starts from the teacher's weights: chosen on the training images with the layer reading them refitted
// (CalibratedFilters; channels joined by residual Adds stay whole), or by weight norm (StructuredPruning).
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>The outcome of an image distillation. Its JSON (ReportJson) is what `condense distill --images --json` prints.</summary>
/// <param name="Ratio">Share of filters removed from each pruned group.</param>
/// <param name="TrainImages">Images distilled on.</param>
/// <param name="EvaluationImages">Held-out images the fidelity is measured on.</param>
/// <param name="Before">Fidelity to the teacher right after the cut.</param>
/// <param name="After">Fidelity to the teacher after distillation.</param>
/// <param name="TeacherParameters">Parameters of the teacher as given.</param>
/// <param name="PrunedParameters">Parameters of the cut student (batch norm folded by a calibrated cut, not by a norm-chosen one).</param>
/// <param name="Parameters">Parameters of the distilled student, batch norm folded into its convolutions.</param>
/// <param name="Epochs">Loss and time per epoch.</param>
/// <param name="Seconds">Time of the whole pipeline: cut, measurements and distillation.</param>
/// <param name="StructuralChanges">The channel groups cut: their layers, channels before and the channels kept.</param>
/// <param name="Skipped">Groups left whole, with the reason.</param>
public sealed record ImageDistillReport(
    [property: JsonPropertyOrder(0)] double Ratio,
    [property: JsonPropertyOrder(1)] int TrainImages,
    [property: JsonPropertyOrder(2)] int EvaluationImages,
    [property: JsonPropertyOrder(3)] TextFidelity Before,
    [property: JsonPropertyOrder(4)] TextFidelity After,
    [property: JsonPropertyOrder(5)] long TeacherParameters,
    [property: JsonPropertyOrder(6)] long PrunedParameters,
    [property: JsonPropertyOrder(7)] long Parameters,
    [property: JsonPropertyOrder(8)] IReadOnlyList<FeatureDistillEpoch> Epochs,
    [property: JsonPropertyOrder(11)] double Seconds,
    [property: JsonPropertyOrder(12)] IReadOnlyList<LayerChange> StructuralChanges,
    [property: JsonPropertyOrder(13)] IReadOnlyList<string> Skipped)
{
    /// <summary>Size of the teacher's file (set by the caller).</summary>
    [JsonPropertyOrder(9)]
    public long FileBytesBefore { get; init; }

    /// <summary>Size of the saved student (set by the caller that saves).</summary>
    [JsonPropertyName("file_bytes"), JsonPropertyOrder(10)]
    public long FileBytesAfter { get; init; }
}

/// <summary>Cuts a student from an image model by removing filters and distils it on unlabelled images.</summary>
public static class ImageDistillPipeline
{
    /// <summary>
    /// The teacher with <paramref name="ratio"/> of the filters of every prunable channel group removed, chosen on
    /// <paramref name="train"/> with the readers refitted (<see cref="Cut(GraphModule, double, Dataset, FilterCutOptions?, IProgress{int}?)"/>),
    /// distilled from <paramref name="teacher"/> on <paramref name="train"/> (each batch passed through
    /// <paramref name="augment"/> if given) and measured against it on <paramref name="evaluation"/>. The teacher is not
    /// changed; the student comes back with batch norm folded.
    /// </summary>
    public static (GraphModule Student, ImageDistillReport Report) Apply(GraphModule teacher, Dataset train, Dataset evaluation, double ratio,
        FeatureDistillOptions options, Func<Tensor, Rng, Tensor>? augment = null, FilterCutOptions? cut = null,
        IProgress<TrainProgress>? progress = null, CancellationToken cancellation = default) =>
        Distil(teacher, Cut(teacher, ratio, train, cut), ratio, train, evaluation, options, augment, progress, cancellation);

    /// <summary>
    /// Every fifth image held out for evaluation and the rest to train on, when no evaluation images are given. Crops of
    /// one photograph are near-duplicates, so separate evaluation images are the honest measure.
    /// </summary>
    public static (Dataset Train, Dataset Evaluation) HoldOutFifth(Dataset images)
    {
        if (images.Count < 10)
            throw new CondenseException($"{images.Count} images: at least 10 are needed to hold out a fifth (or evaluation images of their own)");
        var all = Enumerable.Range(0, images.Count).ToArray();
        return (images.Select([.. all.Where(i => i % 5 != 4)]), images.Select([.. all.Where(i => i % 5 == 4)]));
    }

    /// <summary>
    /// The student before distillation, filters chosen by weight norm (<see cref="StructuredPruning.Remove"/>); refused if it
    /// removed nothing.
    /// </summary>
    public static StructuredResult Cut(GraphModule teacher, double ratio, NeuronNorm norm = NeuronNorm.L2)
    {
        CheckRatio(ratio);
        return Refuse(StructuredPruning.Remove(teacher, ratio, norm));
    }

    /// <summary>
    /// The student before distillation, filters chosen on <paramref name="calibration"/> images with the layers reading them
    /// refitted (<see cref="CalibratedFilters.Remove"/>); refused if it removed nothing. <paramref name="progress"/> hears percent done.
    /// </summary>
    public static StructuredResult Cut(GraphModule teacher, double ratio, Dataset calibration, FilterCutOptions? options = null,
        IProgress<int>? progress = null)
    {
        CheckRatio(ratio);
        string input = teacher.Graph.Inputs[0].Name;
        return Refuse(CalibratedFilters.Remove(teacher, ratio, () => calibration.Feeds(input, 8), options, progress));
    }

    private static void CheckRatio(double ratio)
    {
        if (!(ratio > 0 && ratio < 1)) throw new CondenseException($"the share of filters to remove must be in (0, 1), got {ratio}");
    }

    private static StructuredResult Refuse(StructuredResult cut)
    {
        string why = cut.Skipped.Count > 0 ? string.Join("; ", cut.Skipped) : "the model has no Conv or Gemm layer";
        if (cut.Changes.Count == 0) throw new CondenseException($"no filter could be removed: {why}");
        return cut;
    }

    /// <summary>
    /// As <see cref="Apply"/>, for a student already cut (by either <c>Cut</c>), so that a caller can check the cut before a
    /// long run. The cut's model is not changed.
    /// </summary>
    public static (GraphModule Student, ImageDistillReport Report) Distil(GraphModule teacher, StructuredResult cut, double ratio, Dataset train,
        Dataset evaluation, FeatureDistillOptions options, Func<Tensor, Rng, Tensor>? augment = null, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        if (evaluation.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 evaluation images, got {evaluation.Count}");
        var clock = Stopwatch.StartNew();
        var reference = ImageEvaluation.Outputs(teacher, evaluation, options.BatchSize).Rows;
        var before = Fidelity.Measure(ImageEvaluation.Outputs(cut.Model, evaluation, options.BatchSize).Rows, reference);
        var (student, epochs) = FeatureDistiller.Distil(cut.Model, teacher, train, options, augment, progress, cancellation);
        var after = Fidelity.Measure(ImageEvaluation.Outputs(student, evaluation, options.BatchSize).Rows, reference);
        var report = new ImageDistillReport(ratio, train.Count, evaluation.Count, TextFidelity.Of(before), TextFidelity.Of(after),
            ModelSummary.Of(teacher).Parameters, ModelSummary.Of(cut.Model).Parameters, ModelSummary.Of(student).Parameters, epochs,
            clock.Elapsed.TotalSeconds, cut.Changes, cut.Skipped);
        return (student, report);
    }
}
