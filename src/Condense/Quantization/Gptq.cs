// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", Algorithm 1): quantizes a Linear weight column by column (input feature by input feature) and,
// after each column, spreads its rounding error over the columns not yet quantized with the Optimal Brain
// Surgeon update, so that the layer's output on the calibration data, not the weight itself, stays close:
//   δ_F = −(w_q − quant(w_q)) / [H_F⁻¹]_qq · (H_F⁻¹)_{:,q},   H = 2/n Σ x xᵀ (InputHessian).
// Every row uses the same H⁻¹ sequence, read from the upper Cholesky factor U of H⁻¹ (§4 step 3), and rows are
// independent, so rows run in parallel. Columns are processed in lazy batches (§4 step 2): inside a batch the
// update touches only the batch, and the rest of the row gets the batch's errors at once, E · U[batch, rest].
// The format is BlockwiseQuantizer's: per row, each group of B input columns shares s = max|w| / qmax over the
// group, with the group's weights as they are when its first column comes up (already updated by the earlier
// columns). Lazy batches are a whole number of groups, so every group sees fully updated weights and the result
// equals the plain column-by-column algorithm. (The reference code reads the group from a copy that misses the
// updates made inside the current lazy batch; we do not copy that quirk.)
using System.Runtime.CompilerServices;
using Condense.Calibration;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>GPTQ weight quantization of a Linear weight [out, in] into BlockwiseQuantizer's block-wise symmetric format.</summary>
public static class Gptq
{
    /// <summary>The paper's dampening: λ = 0.01 · mean(diag H) is added to H's diagonal.</summary>
    public const double DefaultDampening = 0.01;

    /// <summary>Columns per lazy batch (the paper's B = 128), rounded to whole groups of the block size.</summary>
    public const int LazyBatchColumns = 128;

    // Rows handed to one parallel task: enough to reuse each U tile from cache, few enough to balance 2–16 cores.
    private const int RowsPerTask = 16;

    /// <summary>
    /// Quantizes <paramref name="weight"/> [out, in] with GPTQ against <paramref name="hessian"/> (built from the
    /// layer's input activations, <c>in</c> features). Returns what <see cref="BlockwiseQuantizer.Quantize"/> returns:
    /// the integers (float tensor [out, in], within ±<c>range.QMax</c>) and the scales [out, ceil(in / blockSize)];
    /// the weight is stored as integer × scale of its block. The inputs are not changed.
    /// </summary>
    /// <param name="weight">The Linear weight, rows = output channels, columns = input features.</param>
    /// <param name="hessian">The calibration Hessian of the layer's input.</param>
    /// <param name="blockSize">Input columns per scale.</param>
    /// <param name="range">The integer range; its QMax is the largest magnitude (int4: 7).</param>
    /// <param name="dampening">Fraction of the mean diagonal added to H's diagonal (the paper uses 0.01).</param>
    public static (Tensor Integers, Tensor Scales) Quantize(Tensor weight, InputHessian hessian, int blockSize, QuantRange range,
        double dampening = DefaultDampening)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(hessian);
        if (weight.Rank != 2) throw new CondenseException($"GPTQ needs a [out, in] weight, got {Shape.Format(weight.Shape)}");
        if (blockSize < 1) throw new CondenseException($"block size must be positive, got {blockSize}");
        if (!(dampening >= 0) || !double.IsFinite(dampening)) throw new CondenseException($"GPTQ dampening must be ≥ 0, got {dampening}");
        int rows = weight.Shape[0], n = weight.Shape[1];
        if (hessian.Features != n)
            throw new CondenseException($"GPTQ Hessian has {hessian.Features} input features but the weight {Shape.Format(weight.Shape)} has {n}");

        var h = hessian.ToMatrix();
        var w = new double[weight.Size];
        for (int i = 0; i < w.Length; i++)
        {
            // A non-finite weight would spread through its whole row with the error feedback.
            if (!float.IsFinite(weight.Data[i])) throw new CondenseException("GPTQ weight contains NaN or infinity");
            w[i] = weight.Data[i];
        }
        HessianAlgebra.PrepareHessian(h, w, n, dampening);
        var u = HessianAlgebra.InverseCholeskyUpper(h, n);

        int blocks = (n + blockSize - 1) / blockSize;
        int batch = blockSize >= LazyBatchColumns ? blockSize : LazyBatchColumns / blockSize * blockSize;
        var integers = new float[weight.Size];
        var scales = new float[rows * blocks];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Cpu.Threads };
        Parallel.ForEach(HessianAlgebra.Chunks(0, rows, RowsPerTask), options, chunk =>
        {
            var errors = new double[(chunk.End - chunk.Start) * batch];
            for (int i1 = 0; i1 < n; i1 += batch)
            {
                int i2 = Math.Min(i1 + batch, n);
                for (int r = chunk.Start; r < chunk.End; r++)
                    QuantizeBatch(w.AsSpan(r * n, n), u, n, i1, i2, blockSize, range.QMax,
                        integers.AsSpan(r * n, n), scales.AsSpan(r * blocks, blocks), errors.AsSpan((r - chunk.Start) * batch, batch));
                if (i2 < n) HessianAlgebra.UpdateRest(w, u, n, i1, i2, chunk.Start, chunk.End, errors, batch);
            }
        });
        return (new Tensor(integers, weight.Shape), new Tensor(scales, [rows, blocks]));
    }

    /// <summary>The symmetric block-wise scale of a group: max|w| / qmax, never below <see cref="QuantParams.MinScale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float GroupScale(ReadOnlySpan<double> group, int qMax)
    {
        float maxAbs = 0f;
        foreach (double v in group) maxAbs = Math.Max(maxAbs, MathF.Abs((float)v));
        return Math.Max(maxAbs / qMax, QuantParams.MinScale);
    }

    /// <summary>
    /// Algorithm 1's inner loop for one row over columns [i1, i2): quantize column i, err = (w_i − ŵ_i) / U_ii, and
    /// w[i+1..i2) −= err · U[i, i+1..i2). The errors are kept for the deferred update of the columns after i2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeBatch(Span<double> w, double[] u, int n, int i1, int i2, int blockSize, int qMax,
        Span<float> integers, Span<float> scales, Span<double> errors)
    {
        float scale = i1 % blockSize == 0 ? 0f : scales[i1 / blockSize];
        for (int i = i1; i < i2; i++)
        {
            if (i % blockSize == 0)
                scales[i / blockSize] = scale = GroupScale(w.Slice(i, Math.Min(blockSize, n - i)), qMax);
            int q = QuantizeLinear.Quantize((float)w[i], scale, 0, -qMax, qMax);
            integers[i] = q;
            double error = (w[i] - QuantizeLinear.Dequantize(q, scale, 0)) / u[i * n + i];
            errors[i - i1] = error;
            if (error != 0) HessianAlgebra.Axpy(-error, u.AsSpan(i * n + i + 1, i2 - i - 1), w.Slice(i + 1, i2 - i - 1));
        }
    }
}
