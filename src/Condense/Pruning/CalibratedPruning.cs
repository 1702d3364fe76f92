// Wanda and SparseGPT on a whole graph. One pass of the unpruned model over the calibration batches gathers every
// layer's input statistics (Σx² per feature for Wanda, H = 2/n Σ x xᵀ for SparseGPT); then the layers are pruned in
// graph order, each on the original model's inputs. This is the one-shot, non-sequential variant: a layer does not see
// the error of the layers pruned before it (the papers' sequential variant, which re-runs the calibration data through
// the already pruned layers, is not done: on all-MiniLM-L6-v2 at 50 % with 128 calibration passages it moved SparseGPT's
// cosine to the original from 0.8944 to 0.8955 and Wanda's from 0.8541 to 0.8494, at 7× the time, 24 passes instead of one).
// Nor is its error-correcting form: each layer first refitted by least squares (intercept into its bias) from the pruned
// model's inputs toward the unpruned model's outputs, then pruned on the pruned inputs' Hessian. It lowers an MLP's output
// error at high sparsity (784-300-100-10 at 80 %: 0.32 → 0.27 relative) but not all-MiniLM-L6-v2's: 50 %, 256 passages,
// cosine 0.9023 against 0.9024, at 12× the time.
// Only MatMul/Gemm weights qualify; a Conv weight (or a Gemm read transposed)
// among the chosen tensors is refused in one line naming it, so that no requested tensor is silently left dense.
using Condense.Calibration;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

internal static class CalibratedPruning
{
    /// <summary>
    /// The masks of <paramref name="options"/>' calibration-driven score (or of magnitude, when the sparsity is allocated by
    /// sensitivity). With <paramref name="writeWeights"/>, SparseGPT's reconstructed weights replace the model's (pruned
    /// positions are then already zero); without, the model is not changed. <see cref="SparsityAllocation.Sensitivity"/> first
    /// measures every tensor pruned alone by <paramref name="loss"/> (default: the outputs' cosine on the first
    /// <see cref="PruneOptions.SensitivitySamples"/> calibration batches) and spends the sparsity by it.
    /// </summary>
    public static MaskSet Compute(GraphModule model, PruneOptions options, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration,
        bool writeWeights, Func<GraphModule, double>? loss = null, IProgress<(int Done, int Total)>? progress = null)
    {
        string score = PruneOptions.ScoreName(options.Score);
        var targets = Prunable.Find(model, options);
        if (options.Score != PruneScore.Magnitude)
            foreach (var t in targets)
                if (Unsupported(t, model.Graph) is { } reason)
                    throw new CondenseException($"{score} prunes MatMul/Gemm weights only: {t.Name} {reason}; exclude it");
        string needs = options.Score != PruneScore.Magnitude ? score : "sensitivity allocation";
        var batches = calibration ?? throw new CondenseException($"{needs} needs calibration data");
        var inputs = options.Score == PruneScore.Magnitude ? null
            : LayerInputs.Gather(model, batches(), targets.Select(t => t.Node).ToList(), hessian: options.Score == PruneScore.SparseGpt, sampleRows: 0);
        if (options.Allocation == SparsityAllocation.Sensitivity)
        {
            loss ??= SensitivityAllocation.OutputCosineLoss(model, batches().Take(options.SensitivitySamples));
            var curves = SensitivityAllocation.Measure(model, targets, (t, s) => PruneTensor(t, inputs?[t.Node.Name], options, s, writeWeights: true),
                loss, progress);
            options = options with { PerTensorSparsity = SensitivityAllocation.Allocate(curves, options.Sparsity) };
        }
        var masks = new MaskSet();
        foreach (var t in targets)
            masks.Set(t, PruneTensor(t, inputs?[t.Node.Name], options, Pruner.SparsityOf(t, options), writeWeights));
        return masks;
    }

    // The mask of one tensor at a sparsity (unused for N:M); SparseGPT's reconstruction written into it with writeWeights,
    // the other scores' pruned weights zeroed with it.
    private static float[] PruneTensor(WeightTensor t, LayerInput? input, PruneOptions options, double sparsity, bool writeWeights)
    {
        bool nm = options.Method == PruneMethod.NM;
        float[] mask;
        if (options.Score != PruneScore.SparseGpt)
        {
            mask = options.Score == PruneScore.Magnitude ? Masks.Magnitude(t.Parameter.Data, sparsity)
                : nm ? Wanda.MaskNM(t.Parameter, t.OutputAxis, input!.SumSquares, options.N, options.M)
                : Wanda.Mask(t.Parameter, t.OutputAxis, input!.SumSquares, sparsity);
            if (writeWeights)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(t.Parameter.Data, mask, t.Parameter.Data);
                t.Parameter.MarkModified();
            }
            return mask;
        }
        // SparseGPT works on the Linear layout [out, in]; a MatMul weight [in, out] goes there and back.
        int outputs = t.Outputs, inputCount = t.InputsPerOutput;
        bool transposed = t.OutputAxis == 1;
        var linear = new Tensor(transposed ? Transpose(t.Parameter.Data, inputCount, outputs) : t.Parameter.Data, outputs, inputCount);
        var (weight, linearMask) = nm
            ? SparseGpt.PruneNM(linear, input!.Hessian!, options.N, options.M)
            : SparseGpt.Prune(linear, input!.Hessian!, sparsity);
        if (writeWeights)
        {
            (transposed ? Transpose(weight.Data, outputs, inputCount) : weight.Data).CopyTo(t.Parameter.Data, 0);
            t.Parameter.MarkModified();
        }
        return transposed ? Transpose(linearMask, outputs, inputCount) : linearMask;
    }

    /// <summary>Why the calibration-driven scores cannot prune <paramref name="t"/>, or null when they can.</summary>
    private static string? Unsupported(WeightTensor t, ModelGraph graph) => t.Node.OpType switch
    {
        OpTypes.Conv => "is a Conv weight",
        OpTypes.Gemm when t.Node.Int("transA", 0) != 0 => "belongs to a Gemm with transA",
        _ when t.Parameter.Rank != 2 => $"is not a 2-D weight ({Shape.Format(t.Parameter.Shape)})",
        OpTypes.MatMul when graph.Initializers.ContainsKey(t.Node.Inputs[0]) => "multiplies a constant, not a layer input",
        _ => null,
    };

    // A [rows, columns] row-major matrix transposed into a new array.
    private static float[] Transpose(float[] data, int rows, int columns)
    {
        var result = new float[data.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = data[r * columns + c];
        return result;
    }
}
