// Unstructured and semi-structured pruning as a pass: find the prunable tensors, compute one mask per
// tensor with the chosen method, zero the weights. The returned masks hold during fine-tuning. The scores
// that need calibration data (Wanda, SparseGPT) take the model's input batches and run in CalibratedPruning.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>Prunes weights in place.</summary>
public static class Pruner
{
    /// <summary>Computes masks for <paramref name="model"/> with <paramref name="options"/> and zeroes the pruned weights.</summary>
    public static MaskSet Prune(GraphModule model, PruneOptions options) => Prune(model, options, null);

    /// <summary>
    /// Computes masks for <paramref name="model"/> with <paramref name="options"/> and zeroes the pruned weights; the
    /// calibration-driven scores (<see cref="PruneScore.Wanda"/>, <see cref="PruneScore.SparseGpt"/>) read the batches
    /// <paramref name="calibration"/> yields, each the model's inputs by name. SparseGPT also replaces the kept weights with
    /// its reconstruction, in place.
    /// </summary>
    /// <exception cref="CondenseException">A calibration-driven score without <paramref name="calibration"/>, or a chosen tensor it cannot prune.</exception>
    public static MaskSet Prune(GraphModule model, PruneOptions options, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration)
    {
        options.Validate();
        var masks = options.Score == PruneScore.Magnitude
            ? ComputeMasks(model, options)
            : CalibratedPruning.Compute(model, options, calibration, writeWeights: true);
        masks.Apply();
        return masks;
    }

    /// <summary>Computes masks without changing any weight.</summary>
    public static MaskSet ComputeMasks(GraphModule model, PruneOptions options) => ComputeMasks(model, options, null);

    /// <summary>
    /// Computes masks without changing any weight; the calibration-driven scores read the batches <paramref name="calibration"/>
    /// yields. For SparseGPT these are the masks it chooses while reconstructing a copy of each weight; the reconstruction is
    /// discarded, so applying the masks alone zeroes the same weights without SparseGPT's update of the kept ones (use
    /// <see cref="Prune(GraphModule, PruneOptions, Func{IEnumerable{IReadOnlyDictionary{string, Tensor}}})"/> for SparseGPT itself).
    /// </summary>
    public static MaskSet ComputeMasks(GraphModule model, PruneOptions options, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration)
    {
        options.Validate();
        if (options.Score != PruneScore.Magnitude) return CalibratedPruning.Compute(model, options, calibration, writeWeights: false);
        var targets = Prunable.Find(model, options);
        var masks = new MaskSet();
        switch (options.Method)
        {
            case PruneMethod.Threshold:
                foreach (var t in targets) masks.Set(t, Masks.Threshold(t.Parameter.Data, options.Threshold));
                break;
            case PruneMethod.Magnitude when options.Global && options.PerTensorSparsity is null:
                var all = Masks.GlobalMagnitude(targets.Select(t => t.Parameter.Data).ToList(), options.Sparsity);
                for (int i = 0; i < targets.Count; i++) masks.Set(targets[i], all[i]);
                break;
            case PruneMethod.Magnitude:
                foreach (var t in targets) masks.Set(t, Masks.Magnitude(t.Parameter.Data, SparsityOf(t, options)));
                break;
            case PruneMethod.Random when options.Global:
                // One random draw over all tensors together, like the global magnitude ranking.
                var rng = new Rng(options.Seed);
                int total = targets.Sum(t => t.Parameter.Size);
                var flat = Masks.Random(total, options.Sparsity, rng);
                int offset = 0;
                foreach (var t in targets) { masks.Set(t, flat.AsSpan(offset, t.Parameter.Size).ToArray()); offset += t.Parameter.Size; }
                break;
            case PruneMethod.Random:
                var perTensor = new Rng(options.Seed);
                foreach (var t in targets) masks.Set(t, Masks.Random(t.Parameter.Size, SparsityOf(t, options), perTensor));
                break;
            case PruneMethod.NM:
                foreach (var t in targets.Where(t => !t.IsBias))
                {
                    int outputs = t.Outputs, inputs = t.InputsPerOutput;
                    // Linear layout (out, in): row-major; MatMul layout (in, out): the input index is the row.
                    Func<int, int, int> index = t.OutputAxis == 0 ? (o, i) => o * inputs + i : (o, i) => i * outputs + o;
                    masks.Set(t, Masks.NM(t.Parameter.Data, outputs, inputs, index, options.N, options.M));
                }
                break;
        }
        return masks;
    }

    internal static double SparsityOf(WeightTensor t, PruneOptions options) =>
        options.PerTensorSparsity is { } map && map.TryGetValue(t.Name, out var s) ? s : options.Sparsity;
}
