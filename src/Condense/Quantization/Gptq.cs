// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers",
// Algorithm 1): the weight's input columns are rounded one at a time, and each column's rounding error is spread over
// the columns not yet rounded through the inverse Hessian of the layer's reconstruction error, H = 2 XᵀX / n over the
// calibration inputs X. With U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), after column q:
//   err = (w_q − q̂) / U[q, q],  W[:, j] −= err · U[q, j]  for j > q,
// with lazy batches of 128 columns (updates inside a batch at once, the rest of the matrix once per batch) and
// dampening λ = 0.01 · mean(diag H). Scales are block-wise as BlockwiseQuantizer's, each found when its block starts
// from the weights as the error feedback has left them (the reference's groupsize). Input columns that never carry
// a signal (H_ii = 0) are zeroed.
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>The Hessian of a linear layer's reconstruction error, accumulated from calibration inputs batch by batch.</summary>
public sealed class GptqHessian
{
    private readonly double[] _sum;
    private long _rows;

    /// <summary>A Hessian for a layer with <paramref name="inputs"/> input features.</summary>
    public GptqHessian(int inputs)
    {
        Inputs = inputs;
        _sum = new double[inputs * inputs];
    }

    /// <summary>Input features.</summary>
    public int Inputs { get; }

    /// <summary>Calibration rows seen.</summary>
    public long Rows => _rows;

    /// <summary>Adds the rows of <paramref name="activations"/> (any shape whose last axis is the layer's inputs).</summary>
    public void Add(Tensor activations)
    {
        ArgumentNullException.ThrowIfNull(activations);
        if (activations.Shape[^1] != Inputs)
            throw new CondenseException($"GPTQ: activations of width {activations.Shape[^1]} for a layer with {Inputs} inputs");
        int rows = activations.Size / Inputs;
        // XᵀX on the float GEMM, accumulated in double across batches.
        var x = new Tensor(activations.Data.ToArray(), rows, Inputs);
        var gram = x.Transpose().MatMul(x).Data;
        for (int i = 0; i < _sum.Length; i++) _sum[i] += gram[i];
        _rows += rows;
    }

    /// <summary>H = 2 XᵀX / n, row-major [inputs, inputs].</summary>
    public double[] Matrix() => [.. _sum.Select(v => _rows == 0 ? 0 : 2 * v / _rows)];
}

/// <summary>GPTQ quantization of a Linear weight [out, in] with block-wise symmetric scales.</summary>
public static class Gptq
{
    private const int LazyBatch = 128;

    /// <summary>
    /// The integers (shape of <paramref name="weight"/>) and scales [out, ceil(in / blockSize)] of GPTQ's rounding of
    /// <paramref name="weight"/> [out, in] into <paramref name="range"/>, given the layer's <paramref name="hessian"/>.
    /// </summary>
    public static (Tensor Integers, Tensor Scales) Quantize(Tensor weight, GptqHessian hessian, int blockSize, QuantRange range, double dampening = 0.01)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(hessian);
        if (weight.Rank != 2 || weight.Shape[1] != hessian.Inputs)
            throw new CondenseException($"GPTQ: a weight of {Shape.Format(weight.Shape)} for a Hessian of {hessian.Inputs} inputs");
        int rows = weight.Shape[0], cols = weight.Shape[1], blocks = (cols + blockSize - 1) / blockSize;
        var h = hessian.Matrix();
        var w = weight.Data.Select(v => (double)v).ToArray();
        for (int i = 0; i < cols; i++)
            if (h[i * cols + i] == 0)
            {
                h[i * cols + i] = 1;
                for (int r = 0; r < rows; r++) w[r * cols + i] = 0;
            }
        double damp = dampening * Enumerable.Range(0, cols).Average(i => h[i * cols + i]);
        for (int i = 0; i < cols; i++) h[i * cols + i] += damp;
        var u = UpperCholeskyOfInverse(h, cols);

        var integers = new float[rows * cols];
        var scales = new float[rows * blocks];
        int qmax = range.QMax;
        for (int start = 0; start < cols; start += LazyBatch)
        {
            int end = Math.Min(cols, start + LazyBatch), count = end - start;
            var errors = new double[rows * count];
            Parallel.For(0, rows, r =>
            {
                int row = r * cols;
                for (int i = start; i < end; i++)
                {
                    if (i % blockSize == 0)
                    {
                        double max = 0;
                        for (int k = i; k < Math.Min(cols, i + blockSize); k++) max = Math.Max(max, Math.Abs(w[row + k]));
                        scales[r * blocks + i / blockSize] = Math.Max((float)(max / qmax), QuantParams.MinScale);
                    }
                    float s = scales[r * blocks + i / blockSize];
                    double q = Math.Clamp(Math.Round(w[row + i] / s, MidpointRounding.ToEven), -qmax, qmax);
                    integers[row + i] = (float)q;
                    double err = (w[row + i] - q * s) / u[i * cols + i];
                    errors[r * count + i - start] = err;
                    for (int j = i + 1; j < end; j++) w[row + j] -= err * u[i * cols + j];
                }
                // The lazy batch update: the columns after this batch take the batch's errors at once.
                for (int i = start; i < end; i++)
                {
                    double err = errors[r * count + i - start];
                    if (err == 0) continue;
                    for (int j = end; j < cols; j++) w[row + j] -= err * u[i * cols + j];
                }
            });
        }
        return (new Tensor(integers, rows, cols), new Tensor(scales, rows, blocks));
    }

    // U upper triangular with H⁻¹ = UᵀU: invert H through its Cholesky factor L (H = LLᵀ), then factor H⁻¹.
    internal static double[] UpperCholeskyOfInverse(double[] h, int n)
    {
        var l = Cholesky(h, n);
        // L⁻¹ by forward substitution, then H⁻¹ = L⁻ᵀL⁻¹.
        var li = new double[n * n];
        for (int c = 0; c < n; c++)
        {
            li[c * n + c] = 1 / l[c * n + c];
            for (int r = c + 1; r < n; r++)
            {
                double sum = 0;
                for (int k = c; k < r; k++) sum += l[r * n + k] * li[k * n + c];
                li[r * n + c] = -sum / l[r * n + r];
            }
        }
        var inverse = new double[n * n];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = 0;
                for (int k = i; k < n; k++) sum += li[k * n + i] * li[k * n + j];
                inverse[i * n + j] = inverse[j * n + i] = sum;
            }
        });
        var lower = Cholesky(inverse, n);
        var upper = new double[n * n];
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) upper[i * n + j] = lower[j * n + i];
        return upper;
    }

    // Lower Cholesky factor of a symmetric positive definite matrix (row-major).
    private static double[] Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            double diagonal = a[j * n + j];
            for (int k = 0; k < j; k++) diagonal -= l[j * n + k] * l[j * n + k];
            if (!(diagonal > 0)) throw new CondenseException("GPTQ: the Hessian is not positive definite; raise the dampening");
            double d = Math.Sqrt(diagonal);
            l[j * n + j] = d;
            Parallel.For(j + 1, n, i =>
            {
                double sum = a[i * n + j];
                for (int k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
                l[i * n + j] = sum / d;
            });
        }
        return l;
    }
}
