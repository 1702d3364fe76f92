// Structured Optimal Brain Surgeon on the inputs of one Linear layer (Hassibi & Stork 1993; for groups of weights as in
// Kurtic et al. 2022, "The Optimal BERT Surgeon", and ZipLM, Kurtic et al. 2023): removing an attention head or a
// feed-forward neuron removes a group G of input features of the layer that reads it (the output projection, the
// narrowing FFN layer). Of all groups, the one whose removal raises the layer's output error ‖XW − X̂Ŵ‖² least is
//   argmin_G tr(W_Gᵀ ([H⁻¹]_GG)⁻¹ W_G),   H = XᵀX (+ λI),
// and the kept weights that restore the output best move by δW = −H⁻¹_{:,G} ([H⁻¹]_GG)⁻¹ W_G, after which
// H⁻¹ ← H⁻¹ − H⁻¹_{:,G} ([H⁻¹]_GG)⁻¹ H⁻¹_{G,:} is the inverse Hessian of the features left. Removing groups one at a
// time this way (greedy, exact for the quadratic objective) ends at the least-squares refit of the kept weights. The
// bias is one more input that is always 1 (H gains the row 2·mean(x) and the entry 2), never removed: it absorbs the
// mean of what the removed units wrote (as FLAP's bias compensation, An et al. 2024, does alone).
using Condense.Calibration;

namespace Condense.Pruning;

/// <summary>Greedy structured OBS: which input groups of a Linear layer to remove, and the refitted weights.</summary>
internal static class StructuredObs
{
    /// <summary>
    /// Removes <paramref name="count"/> groups of <paramref name="groupSize"/> consecutive input features from a layer with
    /// <paramref name="weight"/> [in, out] (row i = input feature i, changed in place to the refitted weights; removed rows
    /// end as zero) and <paramref name="bias"/> [out] (refitted in place; may be null). Returns the removed group indices,
    /// ascending. <paramref name="hessian"/> is 2/n Σ x xᵀ [in, in], <paramref name="mean"/> 1/n Σ x.
    /// </summary>
    public static int[] Remove(double[] weight, double[]? bias, int inputs, int outputs, double[] hessian, double[] mean, int groupSize,
        int count, double dampening)
    {
        var result = RemoveEach(weight, bias, inputs, outputs, hessian, mean, groupSize, [count], dampening)[0];
        Array.Copy(result.Weight, weight, weight.Length);
        if (bias is not null) Array.Copy(result.Bias!, bias, outputs);
        return result.Removed;
    }

    /// <summary>
    /// <see cref="Remove"/> for each of <paramref name="counts"/> at once, without changing <paramref name="weight"/> or
    /// <paramref name="bias"/>: the greedy removes one group at a time, so the removal for a smaller count is the start of the
    /// one for a larger count, and one pass to the largest gives every result (as one call per count would, bit for bit).
    /// </summary>
    public static IReadOnlyList<(int[] Removed, double[] Weight, double[]? Bias)> RemoveEach(double[] weight, double[]? bias, int inputs, int outputs,
        double[] hessian, double[] mean, int groupSize, IReadOnlyList<int> counts, double dampening)
    {
        if (inputs % groupSize != 0) throw new CondenseException($"{inputs} input features do not split into groups of {groupSize}");
        int groups = inputs / groupSize;
        foreach (int c in counts)
            if (c < 0 || c >= groups) throw new CondenseException($"cannot remove {c} of {groups} groups (at least one stays)");
        int count = counts.Count == 0 ? 0 : counts.Max();
        var results = new (int[] Removed, double[] Weight, double[]? Bias)[counts.Count];
        int n = inputs + (bias is null ? 0 : 1);
        // W̃ = [W; b] and H̃ = [[H, 2m], [2mᵀ, 2]]: the bias is the weight of a constant input 1.
        var w = new double[n * outputs];
        Array.Copy(weight, w, weight.Length);
        if (bias is not null) Array.Copy(bias, 0, w, inputs * outputs, outputs);
        var h = new double[n * n];
        for (int i = 0; i < inputs; i++) Array.Copy(hessian, i * inputs, h, i * n, inputs);
        if (bias is not null)
        {
            for (int i = 0; i < inputs; i++) h[i * n + inputs] = h[inputs * n + i] = 2 * mean[i];
            h[inputs * n + inputs] = 2;
        }
        var unusedWeights = new double[n];
        HessianAlgebra.PrepareHessian(h, unusedWeights, n, dampening);
        var inverse = Inverse(h, n);

        var alive = Enumerable.Repeat(true, groups).ToArray();
        var removed = new List<int>(count);
        var block = new double[groupSize * groupSize];
        for (int step = 0; ; step++)
        {
            for (int k = 0; k < counts.Count; k++)
                if (counts[k] == step)
                    results[k] = ([.. removed.Order()], w[..weight.Length], bias is null ? null : w[(inputs * outputs)..(inputs * outputs + outputs)]);
            if (step == count) break;
            int best = -1;
            double bestError = double.PositiveInfinity;
            for (int g = 0; g < groups; g++)
            {
                if (!alive[g]) continue;
                double error = RemovalError(inverse, w, n, outputs, g * groupSize, groupSize, block);
                if (error < bestError) (best, bestError) = (g, error);
            }
            RemoveGroup(inverse, w, n, outputs, best * groupSize, groupSize, block);
            alive[best] = false;
            removed.Add(best);
        }
        return results;
    }

    /// <summary>
    /// The least-squares refit of the <paramref name="kept"/> inputs (ascending) and the bias toward a target output:
    /// [W; b] = H̃⁻¹ [C; 2·ȳ] on the kept rows, H̃ the bias-augmented Hessian damped as in Remove, C = 2/n Σ x yᵀ
    /// [inputs, outputs] and ȳ the mean target (CrossMoments). Returns W as [inputs, outputs] (rows not kept are zero) and b.
    /// </summary>
    public static (double[] Weight, double[] Bias) Refit(double[] hessian, double[] mean, int inputs, int[] kept, double[] cross,
        double[] targetMean, int outputs, double dampening)
    {
        int k = kept.Length, n = k + 1;
        var h = new double[n * n];
        var rhs = new double[n * outputs];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++) h[i * n + j] = hessian[kept[i] * inputs + kept[j]];
            h[i * n + k] = h[k * n + i] = 2 * mean[kept[i]];
            Array.Copy(cross, kept[i] * outputs, rhs, i * outputs, outputs);
        }
        h[k * n + k] = 2;
        for (int o = 0; o < outputs; o++) rhs[k * outputs + o] = 2 * targetMean[o];
        HessianAlgebra.PrepareHessian(h, new double[n], n, dampening);
        HessianAlgebra.CholeskyLower(h, n);
        // L Z = R, then Lᵀ W = Z, a whole row of outputs at a time.
        for (int i = 0; i < n; i++)
        {
            var row = rhs.AsSpan(i * outputs, outputs);
            for (int j = 0; j < i; j++) HessianAlgebra.Axpy(-h[i * n + j], rhs.AsSpan(j * outputs, outputs), row);
            foreach (ref double v in row) v /= h[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--)
        {
            var row = rhs.AsSpan(i * outputs, outputs);
            for (int j = i + 1; j < n; j++) HessianAlgebra.Axpy(-h[j * n + i], rhs.AsSpan(j * outputs, outputs), row);
            foreach (ref double v in row) v /= h[i * n + i];
        }
        var weight = new double[inputs * outputs];
        for (int i = 0; i < k; i++) Array.Copy(rhs, i * outputs, weight, kept[i] * outputs, outputs);
        return (weight, rhs[(k * outputs)..]);
    }

    // tr(W_Gᵀ S⁻¹ W_G) with S = [H⁻¹]_GG: Σ over outputs of w_Gᵀ S⁻¹ w_G.
    private static double RemovalError(double[] inverse, double[] w, int n, int outputs, int start, int size, double[] block)
    {
        if (size == 1)
        {
            double sum = 0;
            foreach (double v in w.AsSpan(start * outputs, outputs)) sum += v * v;
            return sum / inverse[start * n + start];
        }
        var solved = SolveBlock(inverse, w, n, outputs, start, size, block);
        double error = 0;
        for (int i = 0; i < size * outputs; i++) error += solved[i] * w[start * outputs + i];
        return error;
    }

    // W −= H⁻¹_{:,G} S⁻¹ W_G and H⁻¹ −= H⁻¹_{:,G} S⁻¹ H⁻¹_{G,:}; the group's own rows become zero.
    private static void RemoveGroup(double[] inverse, double[] w, int n, int outputs, int start, int size, double[] block)
    {
        var solvedWeights = SolveBlock(inverse, w, n, outputs, start, size, block);
        var solvedInverse = SolveBlock(inverse, inverse, n, n, start, size, block);
        var column = new double[size];
        for (int r = 0; r < n; r++)
        {
            for (int k = 0; k < size; k++) column[k] = inverse[r * n + start + k];
            if (column.AsSpan().IndexOfAnyExcept(0.0) < 0) continue;
            for (int k = 0; k < size; k++)
            {
                HessianAlgebra.Axpy(-column[k], solvedWeights.AsSpan(k * outputs, outputs), w.AsSpan(r * outputs, outputs));
                HessianAlgebra.Axpy(-column[k], solvedInverse.AsSpan(k * n, n), inverse.AsSpan(r * n, n));
            }
        }
        for (int k = 0; k < size; k++)
        {
            Array.Clear(w, (start + k) * outputs, outputs);
            Array.Clear(inverse, (start + k) * n, n);
            for (int r = 0; r < n; r++) inverse[r * n + start + k] = 0;
        }
    }

    // S⁻¹ M_G for S = [H⁻¹]_GG (size × size) and M_G the group's rows of a [n, width] matrix; S by Cholesky.
    private static double[] SolveBlock(double[] inverse, double[] m, int n, int width, int start, int size, double[] block)
    {
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++) block[i * size + j] = inverse[(start + i) * n + start + j];
        HessianAlgebra.CholeskyLower(block, size);
        var result = new double[size * width];
        Array.Copy(m, start * width, result, 0, size * width);
        for (int c = 0; c < width; c++)
        {
            // L y = b, then Lᵀ x = y, column c of the right-hand side.
            for (int i = 0; i < size; i++)
            {
                double v = result[i * width + c];
                for (int k = 0; k < i; k++) v -= block[i * size + k] * result[k * width + c];
                result[i * width + c] = v / block[i * size + i];
            }
            for (int i = size - 1; i >= 0; i--)
            {
                double v = result[i * width + c];
                for (int k = i + 1; k < size; k++) v -= block[k * size + i] * result[k * width + c];
                result[i * width + c] = v / block[i * size + i];
            }
        }
        return result;
    }

    // H⁻¹ = UᵀU from the upper factor U of H⁻¹: row u_k adds u_k[i] · u_k[k..] to row i ≥ k (whole rows from k: both triangles).
    private static double[] Inverse(double[] h, int n)
    {
        var u = HessianAlgebra.InverseCholeskyUpper(h, n);
        var inverse = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            var row = u.AsSpan(k * n, n);
            for (int i = k; i < n; i++)
                if (row[i] != 0) HessianAlgebra.Axpy(row[i], row[k..], inverse.AsSpan(i * n + k, n - k));
        }
        return inverse;
    }
}
