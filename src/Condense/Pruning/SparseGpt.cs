// SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot",
// Algorithm 1): prunes a Linear weight column by column (input feature by input feature) and, after each column,
// moves the pruned weights' error onto the columns not yet visited with the Optimal Brain Surgeon update, so that the
// layer's output on the calibration data, not the weight itself, stays close — GPTQ's machinery with "quantize"
// replaced by "keep or zero":
//   err = (w_c − mask_c · w_c) / U_cc,   w_{c+1..} −= err · U_{c, c+1..},   U = chol(H⁻¹) upper, H = 2/n Σ x xᵀ + λI.
// The mask is chosen by the OBS saliency w² / [H⁻¹]_cc = w² / U_cc² on the weights as updated so far (adaptive mask
// selection, §3.2): unstructured, at the start of each block of B = 128 columns every row loses its round(s · count)
// lowest-saliency weights of the block (per output row, as Wanda compares; the reference ranks the block across all rows,
// which was built and measured: all-MiniLM-L6-v2 at 50 % with 128 calibration passages, cosine 0.8915 against 0.8944 per row);
// N:M, at each group of M columns every row loses its M − N lowest. Blocks are a whole number of groups, so a group's
// choice sees fully updated weights. Rows are independent and run in parallel; columns after a block get the block's
// errors at once (lazy batch update, as GPTQ). Dead inputs (H_cc = 0) get weight 0, as in GPTQ.
// Tried and not kept: the layer's bias as one more, never pruned column on a constant-1 input (Hessian row 2·mean(x),
// diagonal 2), visited last so that it takes every pruned weight's error (FLAP's bias compensation, which StructuredObs
// keeps for removed heads and neurons): all-MiniLM-L6-v2 at 50 %, cosine to the original on fortunes.txt 0.8944 → 0.8904
// with 128 calibration passages, 0.9108 → 0.9103 with 1,024 — the layer-wise least squares moved the biases the wrong way.
using System.Runtime.CompilerServices;
using Condense.Calibration;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>SparseGPT pruning with reconstruction of a Linear weight [out, in].</summary>
public static class SparseGpt
{
    /// <summary>The paper's dampening: λ = 0.01 · mean(diag H) is added to H's diagonal.</summary>
    public const double DefaultDampening = 0.01;

    /// <summary>Columns per block (the paper's B = 128): the mask-selection and lazy-update block, rounded to whole N:M groups.</summary>
    public const int BlockColumns = 128;

    // Rows handed to one parallel task: enough to reuse each U tile from cache, few enough to balance 2–16 cores.
    private const int RowsPerTask = 16;

    /// <summary>
    /// Unstructured SparseGPT: each output row of <paramref name="weight"/> [out, in] loses round(sparsity · count) weights of
    /// every block of <see cref="BlockColumns"/> input columns. Returns the pruned, reconstructed weight [out, in] (zero where
    /// pruned) and its mask (1 = keep). The inputs are not changed.
    /// </summary>
    /// <param name="weight">The Linear weight, rows = output channels, columns = input features.</param>
    /// <param name="hessian">The calibration Hessian of the layer's input.</param>
    /// <param name="sparsity">The fraction of weights to zero (0–1).</param>
    /// <param name="dampening">Fraction of the mean diagonal added to H's diagonal (the paper uses 0.01).</param>
    public static (Tensor Weight, float[] Mask) Prune(Tensor weight, InputHessian hessian, double sparsity, double dampening = DefaultDampening)
    {
        if (!(sparsity >= 0 && sparsity <= 1)) throw new CondenseException($"sparsity must be in [0, 1], got {sparsity}");
        return Run(weight, hessian, sparsity, 0, 0, dampening);
    }

    /// <summary>
    /// N:M SparseGPT: in every group of <paramref name="m"/> consecutive input columns each output row keeps <paramref name="n"/>
    /// weights (a last, shorter group keeps min(N, its length)). Returns the pruned, reconstructed weight [out, in] and its mask.
    /// </summary>
    public static (Tensor Weight, float[] Mask) PruneNM(Tensor weight, InputHessian hessian, int n, int m, double dampening = DefaultDampening)
    {
        if (n < 0 || m <= 0 || n > m) throw new CondenseException($"N:M pattern needs 0 ≤ N ≤ M and M > 0, got {n}:{m}");
        return Run(weight, hessian, 0, n, m, dampening);
    }

    // m = 0: unstructured at `sparsity`; otherwise N:M.
    private static (Tensor Weight, float[] Mask) Run(Tensor weight, InputHessian hessian, double sparsity, int n, int m, double dampening)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(hessian);
        if (weight.Rank != 2) throw new CondenseException($"SparseGPT needs a [out, in] weight, got {Shape.Format(weight.Shape)}");
        if (!(dampening >= 0) || !double.IsFinite(dampening)) throw new CondenseException($"SparseGPT dampening must be ≥ 0, got {dampening}");
        int rows = weight.Shape[0], columns = weight.Shape[1];
        if (hessian.Features != columns)
            throw new CondenseException($"SparseGPT Hessian has {hessian.Features} input features but the weight {Shape.Format(weight.Shape)} has {columns}");

        var h = hessian.ToMatrix();
        var w = new double[weight.Size];
        for (int i = 0; i < w.Length; i++)
        {
            // A non-finite weight would spread through its whole row with the error feedback.
            if (!float.IsFinite(weight.Data[i])) throw new CondenseException("SparseGPT weight contains NaN or infinity");
            w[i] = weight.Data[i];
        }
        HessianAlgebra.PrepareHessian(h, w, columns, dampening);
        double[] u;
        try { u = HessianAlgebra.InverseCholeskyUpper(h, columns); }
        catch (CondenseException) { throw new CondenseException("SparseGPT: the damped Hessian is not positive definite; raise the dampening"); }

        int batch = m == 0 ? BlockColumns : m >= BlockColumns ? m : BlockColumns / m * m;
        var mask = new float[weight.Size];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Cpu.Threads };
        Parallel.ForEach(HessianAlgebra.Chunks(0, rows, RowsPerTask), options, chunk =>
        {
            var errors = new double[(chunk.End - chunk.Start) * batch];
            var saliency = new double[batch];
            for (int i1 = 0; i1 < columns; i1 += batch)
            {
                int i2 = Math.Min(i1 + batch, columns);
                for (int r = chunk.Start; r < chunk.End; r++)
                    PruneBatch(w.AsSpan(r * columns, columns), u, columns, i1, i2, sparsity, n, m, mask.AsSpan(r * columns, columns),
                        errors.AsSpan((r - chunk.Start) * batch, batch), saliency);
                if (i2 < columns) HessianAlgebra.UpdateRest(w, u, columns, i1, i2, chunk.Start, chunk.End, errors, batch);
            }
        });
        var pruned = new float[w.Length];
        for (int i = 0; i < w.Length; i++) pruned[i] = (float)w[i];
        return (new Tensor(pruned, weight.Shape), mask);
    }

    /// <summary>
    /// Algorithm 1's inner loop for one row over columns [i1, i2): choose the mask where due, then per column c
    /// err = (w_c − mask_c · w_c) / U_cc, w_c = mask_c · w_c and w[c+1..i2) −= err · U[c, c+1..i2). The errors are kept for the
    /// deferred update of the columns after i2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PruneBatch(Span<double> w, double[] u, int columns, int i1, int i2, double sparsity, int n, int m,
        Span<float> mask, Span<double> errors, double[] saliency)
    {
        if (m == 0) ChooseMask(w, u, columns, i1, i2 - i1, (int)Masks.PruneCount(i2 - i1, sparsity), mask, saliency);
        for (int c = i1; c < i2; c++)
        {
            if (m > 0 && c % m == 0)
            {
                int length = Math.Min(m, columns - c);
                ChooseMask(w, u, columns, c, length, length - Math.Min(n, length), mask, saliency);
            }
            double kept = mask[c] != 0f ? w[c] : 0;
            double error = (w[c] - kept) / u[c * columns + c];
            errors[c - i1] = error;
            w[c] = kept;
            if (error != 0) HessianAlgebra.Axpy(-error, u.AsSpan(c * columns + c + 1, i2 - c - 1), w.Slice(c + 1, i2 - c - 1));
        }
    }

    // Columns [start, start + length) of the row: the `prune` lowest saliencies w² / U_cc² get mask 0, the rest 1.
    private static void ChooseMask(Span<double> w, double[] u, int columns, int start, int length, int prune, Span<float> mask, double[] saliency)
    {
        for (int c = start; c < start + length; c++)
        {
            double d = u[c * columns + c];
            saliency[c - start] = w[c] * w[c] / (d * d);
        }
        Masks.PruneLowest(saliency.AsSpan(0, length), prune, mask.Slice(start, length));
    }
}
