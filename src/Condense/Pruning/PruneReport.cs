// What a pruning run reports: per-tensor and total sparsity, parameters and non-zeros, file sizes,
// accuracy before, right after pruning and after fine-tuning, and the time taken. All measured.
using Condense.Reports;

namespace Condense.Pruning;

/// <summary>One tensor before and after.</summary>
public sealed record PrunedTensor(string Name, int[] ShapeBefore, int[] ShapeAfter, long Parameters, long NonzeroBefore, long NonzeroAfter)
{
    /// <summary>Fraction of zeros after pruning.</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1.0 - (double)NonzeroAfter / Parameters;
}

/// <summary>
/// The outcome of a pruning run. <see cref="AccuracyAfterPruning"/> is measured before any fine-tuning:
/// for AGP, with the final sparsity applied in one shot to a copy; for iterative pruning, after the
/// first round's pruning.
/// </summary>
public sealed record PruneReport(
    string Method,
    IReadOnlyList<PrunedTensor> Tensors,
    long ParametersBefore, long ParametersAfter, long NonzeroBefore, long NonzeroAfter,
    float AccuracyBefore, float AccuracyAfterPruning, float? AccuracyAfterFinetuning,
    int FinetuneEpochs, long FileBytesBefore, long FileBytesAfter, double Seconds,
    IReadOnlyList<LayerChange>? StructuralChanges = null, IReadOnlyList<string>? Skipped = null)
{
    /// <summary>Fraction of zero parameters in the whole model after pruning.</summary>
    public double TotalSparsity => ParametersAfter == 0 ? 0 : 1.0 - (double)NonzeroAfter / ParametersAfter;

    /// <summary>The accuracy the saved model has: after fine-tuning if there was any.</summary>
    public float FinalAccuracy => AccuracyAfterFinetuning ?? AccuracyAfterPruning;

    internal static IReadOnlyList<PrunedTensor> Compare(ModelSummary before, ModelSummary after)
    {
        var old = before.Tensors.Where(t => t.Trainable).ToDictionary(t => t.Name);
        return after.Tensors.Where(t => t.Trainable).Select(t =>
        {
            var b = old.GetValueOrDefault(t.Name);
            return new PrunedTensor(t.Name, b?.Shape ?? t.Shape, t.Shape, t.Elements, b?.Nonzero ?? t.Nonzero, t.Nonzero);
        }).ToList();
    }
}
