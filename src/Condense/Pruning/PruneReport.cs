// What a pruning run reports: per-tensor and total sparsity, parameters and non-zeros, file sizes,
// accuracy before, right after pruning and after fine-tuning, and the time taken. All measured. Its JSON
// (ReportJson) is what `condense prune --json` prints, keys as the README documents them.
using System.Text.Json.Serialization;
using Condense.Graph;
using Condense.Reports;

namespace Condense.Pruning;

/// <summary>One tensor before and after.</summary>
public sealed record PrunedTensor(string Name, int[] ShapeBefore, [property: JsonPropertyName("shape")] int[] ShapeAfter, long Parameters, long NonzeroBefore,
    [property: JsonPropertyName("nonzero_parameters")] long NonzeroAfter)
{
    /// <summary>Fraction of zeros after pruning.</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1.0 - (double)NonzeroAfter / Parameters;

    /// <summary>The row of a tensor of a pruned copy against the same tensor of <paramref name="original"/>.</summary>
    internal static PrunedTensor Of(GraphModule original, WeightTensor pruned)
    {
        var before = original.Graph.Initializers[pruned.Name];
        var after = pruned.Parameter;
        return new PrunedTensor(pruned.Name, before.Shape, after.Shape, after.Size, before.Data.Count(v => v != 0), after.Data.Count(v => v != 0));
    }
}

/// <summary>
/// The outcome of a pruning run. <see cref="AccuracyAfterPruning"/> is measured before any fine-tuning:
/// for AGP, with the final sparsity applied in one shot to a copy; for iterative pruning, after the
/// first round's pruning. The pass leaves the file sizes at 0; the caller that saves sets them.
/// </summary>
public sealed record PruneReport(
    [property: JsonPropertyOrder(0)] string Method,
    [property: JsonPropertyOrder(14)] IReadOnlyList<PrunedTensor> Tensors,
    [property: JsonPropertyName("parameters_before"), JsonPropertyOrder(7)] long ParametersBefore,
    [property: JsonPropertyName("parameters"), JsonPropertyOrder(6)] long ParametersAfter,
    [property: JsonPropertyName("nonzero_parameters_before"), JsonPropertyOrder(9)] long NonzeroBefore,
    [property: JsonPropertyName("nonzero_parameters"), JsonPropertyOrder(8)] long NonzeroAfter,
    [property: JsonPropertyOrder(2)] float AccuracyBefore,
    [property: JsonIgnore] float AccuracyAfterPruning,
    [property: JsonPropertyOrder(4)] float? AccuracyAfterFinetuning,
    [property: JsonPropertyOrder(5)] int FinetuneEpochs,
    [property: JsonPropertyOrder(12)] long FileBytesBefore,
    [property: JsonPropertyName("file_bytes"), JsonPropertyOrder(11)] long FileBytesAfter,
    [property: JsonPropertyOrder(13)] double Seconds,
    [property: JsonPropertyOrder(15)] IReadOnlyList<LayerChange>? StructuralChanges = null,
    [property: JsonPropertyOrder(16)] IReadOnlyList<string>? Skipped = null)
{
    /// <summary>Fraction of zero parameters in the whole model after pruning.</summary>
    [JsonPropertyName("sparsity"), JsonPropertyOrder(10)]
    public double TotalSparsity => ParametersAfter == 0 ? 0 : 1.0 - (double)NonzeroAfter / ParametersAfter;

    /// <summary>The accuracy the saved model has: after fine-tuning if there was any.</summary>
    [JsonPropertyName("accuracy"), JsonPropertyOrder(1)]
    public float FinalAccuracy => AccuracyAfterFinetuning ?? AccuracyAfterPruning;

    // JSON has no NaN-free "not measured": null (left out) instead.
    [JsonInclude, JsonPropertyName("accuracy_after_pruning"), JsonPropertyOrder(3)]
    internal float? AccuracyAfterPruningOrNull => float.IsNaN(AccuracyAfterPruning) ? null : AccuracyAfterPruning;

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
