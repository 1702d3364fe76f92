// Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models"): pruning by weights
// and activations. Weight W_ij (output i, input j) scores S_ij = |W_ij| · ‖X_j‖₂, the norm of input feature j over
// every calibration row (token), so a small weight on a loud input can outlive a larger one on a quiet input. Weights
// compete only within their output neuron (the paper's comparison group, §3: per output beats per layer for LLMs), or
// within each group of M consecutive inputs of a neuron for N:M. No weight is updated. The reference code scales
// ‖X_j‖² by 1/n; a factor common to all features changes no ranking, so the plain sum of squares is used.
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>Wanda scores and masks of a MatMul/Gemm weight.</summary>
public static class Wanda
{
    /// <summary>
    /// The scores |W_ij| · ‖X_j‖₂ in the weight's own layout: <paramref name="outputAxis"/> 0 for [out, in] (Gemm with transB),
    /// 1 for [in, out] (MatMul). <paramref name="sumSquares"/>[j] = Σ x_j² over the calibration rows of the layer's input.
    /// </summary>
    public static double[] Scores(Tensor weight, int outputAxis, ReadOnlySpan<double> sumSquares)
    {
        var (outputs, inputs) = Layout(weight, outputAxis, sumSquares.Length);
        var norms = new double[inputs];
        for (int j = 0; j < inputs; j++) norms[j] = Math.Sqrt(sumSquares[j]);
        var w = weight.Data;
        var scores = new double[w.Length];
        for (int o = 0; o < outputs; o++)
            for (int j = 0; j < inputs; j++)
            {
                int k = Index(o, j, outputs, inputs, outputAxis);
                scores[k] = Math.Abs((double)w[k]) * norms[j];
            }
        return scores;
    }

    /// <summary>
    /// The unstructured mask (1 = keep): each output neuron loses its round(sparsity · in) lowest-scoring input weights.
    /// Same layout as <paramref name="weight"/>.
    /// </summary>
    public static float[] Mask(Tensor weight, int outputAxis, ReadOnlySpan<double> sumSquares, double sparsity)
    {
        if (!(sparsity >= 0 && sparsity <= 1)) throw new CondenseException($"sparsity must be in [0, 1], got {sparsity}");
        var (outputs, inputs) = Layout(weight, outputAxis, sumSquares.Length);
        int prune = (int)Masks.PruneCount(inputs, sparsity);
        return PerGroup(Scores(weight, outputAxis, sumSquares), outputs, inputs, outputAxis, inputs, _ => prune);
    }

    /// <summary>
    /// The N:M mask (1 = keep): in every group of <paramref name="m"/> consecutive inputs of each output neuron the
    /// <paramref name="n"/> highest scores stay (a last, shorter group keeps min(N, its length)). Same layout as <paramref name="weight"/>.
    /// </summary>
    public static float[] MaskNM(Tensor weight, int outputAxis, ReadOnlySpan<double> sumSquares, int n, int m)
    {
        if (n < 0 || m <= 0 || n > m) throw new CondenseException($"N:M pattern needs 0 ≤ N ≤ M and M > 0, got {n}:{m}");
        var (outputs, inputs) = Layout(weight, outputAxis, sumSquares.Length);
        return PerGroup(Scores(weight, outputAxis, sumSquares), outputs, inputs, outputAxis, m, length => length - Math.Min(n, length));
    }

    // Each output's inputs in groups of `group` consecutive ones; a group of `length` loses its prune(length) lowest scores.
    private static float[] PerGroup(double[] scores, int outputs, int inputs, int outputAxis, int group, Func<int, int> prune)
    {
        var mask = new float[scores.Length];
        var groupScores = new double[group];
        var groupMask = new float[group];
        for (int o = 0; o < outputs; o++)
            for (int start = 0; start < inputs; start += group)
            {
                int length = Math.Min(group, inputs - start);
                for (int j = 0; j < length; j++) groupScores[j] = scores[Index(o, start + j, outputs, inputs, outputAxis)];
                Masks.PruneLowest(groupScores.AsSpan(0, length), prune(length), groupMask);
                for (int j = 0; j < length; j++) mask[Index(o, start + j, outputs, inputs, outputAxis)] = groupMask[j];
            }
        return mask;
    }

    // Linear layout (out, in): row-major; MatMul layout (in, out): the input index is the row.
    private static int Index(int o, int j, int outputs, int inputs, int outputAxis) => outputAxis == 0 ? o * inputs + j : j * outputs + o;

    private static (int Outputs, int Inputs) Layout(Tensor weight, int outputAxis, int features)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2 || outputAxis is not (0 or 1))
            throw new CondenseException($"Wanda needs a 2-D weight and output axis 0 or 1, got {Shape.Format(weight.Shape)} and axis {outputAxis}");
        int outputs = weight.Shape[outputAxis], inputs = weight.Shape[1 - outputAxis];
        if (features != inputs)
            throw new CondenseException($"Wanda has activation norms of {features} input features but the weight {Shape.Format(weight.Shape)} has {inputs}");
        return (outputs, inputs);
    }
}
