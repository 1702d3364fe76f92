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
    /// <param name="model">The model, pruned in place.</param>
    /// <param name="options">What to prune and how.</param>
    /// <param name="calibration">The calibration batches, each the model's inputs by name (needed by Wanda, SparseGPT and
    /// <see cref="SparsityAllocation.Sensitivity"/>).</param>
    /// <param name="sensitivityLoss">For <see cref="SparsityAllocation.Sensitivity"/>: the loss of the model as it is (the
    /// default, <see cref="SensitivityAllocation.OutputCosineLoss"/> on the first <see cref="PruneOptions.SensitivitySamples"/>
    /// calibration batches, fits any model; a text encoder is better measured on its sentence embeddings).</param>
    /// <param name="progress">For <see cref="SparsityAllocation.Sensitivity"/>: measurements done out of the total.</param>
    /// <exception cref="CondenseException">A calibration-driven score without <paramref name="calibration"/>, or a chosen tensor it cannot prune.</exception>
    public static MaskSet Prune(GraphModule model, PruneOptions options, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration,
        Func<GraphModule, double>? sensitivityLoss = null, IProgress<(int Done, int Total)>? progress = null)
    {
        options.Validate();
        var masks = options.Score == PruneScore.Magnitude && options.Allocation == SparsityAllocation.Uniform
            ? ComputeMasks(model, options)
            : CalibratedPruning.Compute(model, options, calibration, writeWeights: true, sensitivityLoss, progress);
        masks.Apply();
        return masks;
    }

    /// <summary>Computes masks without changing any weight.</summary>
    public static MaskSet ComputeMasks(GraphModule model, PruneOptions options) => ComputeMasks(model, options, null);

    /// <summary>
    /// Computes masks without changing any weight; the calibration-driven scores read the batches <paramref name="calibration"/>
    /// yields. For SparseGPT these are the masks it chooses while reconstructing a copy of each weight; the reconstruction is
    /// discarded, so applying the masks alone zeroes the same weights without SparseGPT's update of the kept ones (use
    /// Prune with the calibration batches for SparseGPT itself).
    /// </summary>
    public static MaskSet ComputeMasks(GraphModule model, PruneOptions options, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration)
    {
        options.Validate();
        if (options.Score != PruneScore.Magnitude || options.Allocation == SparsityAllocation.Sensitivity)
            return CalibratedPruning.Compute(model, options, calibration, writeWeights: false);
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
