// SmoothQuant (Xiao et al. 2023, "SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language
// Models", eq. 4): activation outliers sit in a few input channels, which a per-tensor activation scale cannot
// represent; s_j = max|X_j|^α / max|W_j|^(1−α) divides them out of the activations and into the weight's input
// channel j, where per-channel weight quantization absorbs them. α = 0.5 balances the two.
namespace Condense.Quantization;

/// <summary>SmoothQuant's per-input-channel smoothing scales.</summary>
public static class SmoothQuant
{
    /// <summary>
    /// s_j = max|X_j|^α / max|W_j|^(1−α) from the per-channel maxima of the activations and of the weight's input
    /// channels; channels that are zero on either side keep s = 1 (the reference clamps at 1e-5 to the same effect).
    /// </summary>
    public static double[] Scales(IReadOnlyList<double> activationMax, IReadOnlyList<double> weightMax, double alpha)
    {
        if (activationMax.Count != weightMax.Count)
            throw new CondenseException($"SmoothQuant: {activationMax.Count} activation channels for {weightMax.Count} weight channels");
        if (!(alpha >= 0 && alpha <= 1)) throw new CondenseException($"SmoothQuant alpha must be in [0, 1], got {alpha}");
        return [.. activationMax.Select((x, j) =>
        {
            double w = weightMax[j];
            if (x < 1e-5 || w < 1e-5) return 1.0;
            return Math.Pow(x, alpha) / Math.Pow(w, 1 - alpha);
        })];
    }

    /// <summary>The largest |w| of each input channel of a Linear weight [out, in].</summary>
    public static double[] WeightMax(Tensors.Tensor linearWeight)
    {
        int rows = linearWeight.Shape[0], cols = linearWeight.Shape[1];
        var max = new double[cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) max[c] = Math.Max(max[c], Math.Abs(linearWeight.Data[r * cols + c]));
        return max;
    }
}
