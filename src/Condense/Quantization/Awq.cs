// AWQ (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration", §3.2): the
// weights that meet large activations matter most, so each input channel j is scaled up by s_j = mean|x_j|^α before
// rounding (and its activations down by the same), which shrinks their relative rounding error. α is searched on a
// grid of 20 values in [0, 1) to minimise the layer's output error on calibration rows, ‖X Wᵀ − (X ⊘ s) Q(W·diag(s))ᵀ‖²,
// with s normalised by √(max s · min s) as the reference implementation (llm-awq auto_scale) does. α = 0 is plain
// round-to-nearest, so AWQ never does worse than it on the calibration rows.
using Condense.Calibration;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>AWQ's activation-aware scale search for a Linear weight.</summary>
public static class Awq
{
    /// <summary>
    /// The chosen α and per-input-channel scales s for <paramref name="weight"/> [out, in], from the inputs' mean
    /// magnitudes and a sample of input rows [rows, in], for block-wise quantization into <paramref name="range"/>.
    /// </summary>
    public static (double Alpha, double[] Scales) Search(Tensor weight, IReadOnlyList<double> meanAbs, Tensor sample, int blockSize, QuantRange range)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(sample);
        int inputs = weight.Shape[1];
        if (meanAbs.Count != inputs || sample.Shape[1] != inputs)
            throw new CondenseException($"AWQ: statistics of {meanAbs.Count} channels for a weight of {Shape.Format(weight.Shape)}");
        var reference = sample.MatMul(weight.Transpose()).Data;
        (double Alpha, double[] Scales, double Error) best = (0, [.. Enumerable.Repeat(1.0, inputs)], double.PositiveInfinity);
        for (int grid = 0; grid < 20; grid++)
        {
            double alpha = grid / 20.0;
            var s = meanAbs.Select(m => Math.Pow(Math.Max(m, 1e-4), alpha)).ToArray();
            double norm = Math.Sqrt(s.Max() * s.Min());
            for (int j = 0; j < inputs; j++) s[j] /= norm;
            double error = OutputError(weight, sample, s, reference, blockSize, range);
            if (error < best.Error) best = (alpha, s, error);
        }
        return (best.Alpha, best.Scales);
    }

    // ‖X Wᵀ − (X ⊘ s)·Q(W diag(s))ᵀ‖² over the sample rows.
    private static double OutputError(Tensor weight, Tensor sample, double[] s, float[] reference, int blockSize, QuantRange range)
    {
        int rows = weight.Shape[0], cols = weight.Shape[1];
        var scaled = new float[weight.Size];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) scaled[r * cols + c] = (float)(weight.Data[r * cols + c] * s[c]);
        var (integers, scales) = BlockwiseQuantizer.Quantize(new Tensor(scaled, weight.Shape), blockSize, range);
        int blocks = scales.Shape[1];
        var dequantized = new float[weight.Size];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dequantized[r * cols + c] = integers.Data[r * cols + c] * scales.Data[r * blocks + c / blockSize];
        var x = sample.Data.ToArray();
        int n = sample.Shape[0];
        for (int i = 0; i < n; i++) for (int c = 0; c < cols; c++) x[i * cols + c] = (float)(x[i * cols + c] / s[c]);
        var output = new Tensor(x, n, cols).MatMul(new Tensor(dequantized, weight.Shape).Transpose()).Data;
        double error = 0;
        for (int i = 0; i < output.Length; i++) error += (output[i] - reference[i]) * (double)(output[i] - reference[i]);
        return error;
    }
}
