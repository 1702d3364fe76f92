// Independent oracles for WandaSparseGptTests, written from the papers with plain loops: Wanda's score formula with
// a sort per output (or per group), and SparseGPT's Algorithm 1 with the inverse Hessian kept explicitly and updated
// by Gaussian elimination after every column (no Cholesky factor, no lazy batches). Linear layout [out, in] throughout.
using Condense.Tensors;

namespace Condense.Tests.Pruning;

internal static class NaivePruning
{
    /// <summary>Wanda: S_oj = |W_oj| · ‖X_j‖₂; each output (m = 0) or each group of m inputs of it loses its lowest scores.</summary>
    public static float[] WandaMask(float[] w, int outputs, int inputs, Tensor x, double sparsity, int n = 0, int m = 0)
    {
        int rows = x.Size / inputs;
        var norms = new double[inputs];
        for (int j = 0; j < inputs; j++)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++) sum += (double)x.Data[r * inputs + j] * x.Data[r * inputs + j];
            norms[j] = Math.Sqrt(sum);
        }
        var mask = Enumerable.Repeat(1f, w.Length).ToArray();
        for (int o = 0; o < outputs; o++)
        {
            int group = m == 0 ? inputs : m;
            for (int start = 0; start < inputs; start += group)
            {
                int length = Math.Min(group, inputs - start);
                int prune = m == 0 ? PruneCount(sparsity, length) : length - Math.Min(n, length);
                var scores = Enumerable.Range(start, length).Select(j => (Index: j, Score: Math.Abs((double)w[o * inputs + j]) * norms[j]));
                foreach (var s in scores.OrderBy(s => s.Score).ThenBy(s => s.Index).Take(prune)) mask[o * inputs + s.Index] = 0f;
            }
        }
        return mask;
    }

    /// <summary>
    /// SparseGPT, Algorithm 1 written plainly: H⁻¹ explicit; at each block of 128 columns (unstructured, m = 0) or each group
    /// of m columns (N:M) every row chooses its mask by w² / [H⁻¹_c]_cc, the diagonal of H⁻¹ once the columns before c are
    /// eliminated; then column c is kept or zeroed, its error (w − q) / [H⁻¹]_cc spreads over every later column with
    /// [H⁻¹]_cj, and c is eliminated from H⁻¹.
    /// </summary>
    public static (double[] Weight, float[] Mask) SparseGpt(float[] weight, int rows, int columns, double[] h, double sparsity,
        int n = 0, int m = 0, double damp = 0.01)
    {
        var w = weight.Select(v => (double)v).ToArray();
        for (int i = 0; i < columns; i++)
            if (h[i * columns + i] == 0) { h[i * columns + i] = 1; for (int r = 0; r < rows; r++) w[r * columns + i] = 0; }
        double mean = Enumerable.Range(0, columns).Average(i => h[i * columns + i]);
        for (int i = 0; i < columns; i++) h[i * columns + i] += damp * mean;
        var hinv = Invert(h, columns);
        // The diagonal each column will have when its turn comes: a dry run of the elimination.
        var pivots = new double[columns];
        var dry = (double[])hinv.Clone();
        for (int c = 0; c < columns; c++) { pivots[c] = dry[c * columns + c]; Eliminate(dry, columns, c); }

        var mask = Enumerable.Repeat(1f, w.Length).ToArray();
        int group = m == 0 ? 128 : m;
        for (int c = 0; c < columns; c++)
        {
            for (int r = 0; r < rows; r++)
            {
                if (c % group == 0)
                {
                    int length = Math.Min(group, columns - c);
                    int prune = m == 0 ? PruneCount(sparsity, length) : length - Math.Min(n, length);
                    var saliency = Enumerable.Range(c, length).Select(j => (Index: j, Value: w[r * columns + j] * w[r * columns + j] / pivots[j]));
                    foreach (var s in saliency.OrderBy(s => s.Value).ThenBy(s => s.Index).Take(prune)) mask[r * columns + s.Index] = 0f;
                }
                double q = mask[r * columns + c] == 0f ? 0 : w[r * columns + c];
                double delta = (w[r * columns + c] - q) / hinv[c * columns + c];
                for (int j = c + 1; j < columns; j++) w[r * columns + j] -= delta * hinv[c * columns + j];
                w[r * columns + c] = q;
            }
            Eliminate(hinv, columns, c);
        }
        return (w, mask);
    }

    /// <summary>‖X Wᵀ − X Ŵᵀ‖², the layer's output error on the rows of X.</summary>
    public static double OutputError(Tensor x, float[] weight, IReadOnlyList<double> pruned, int outputs)
    {
        int rows = x.Shape[0], n = x.Shape[1];
        double total = 0;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outputs; o++)
            {
                double y = 0;
                for (int i = 0; i < n; i++) y += (double)x.Data[r * n + i] * (weight[o * n + i] - pruned[o * n + i]);
                total += y * y;
            }
        return total;
    }

    /// <summary>X = (Z · A) · diag(s): normal rows mixed by a random A, so H is far from diagonal, and features of unequal loudness.</summary>
    public static Tensor Correlated(int rows, int columns, ulong seed)
    {
        var rng = new Rng(seed);
        var z = Normal(rows * columns, rng);
        var a = Normal(columns * columns, rng);
        var scale = Normal(columns, rng).Select(v => MathF.Exp(0.8f * v)).ToArray();
        var x = new float[rows * columns];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < columns; k++)
            {
                float zk = z[r * columns + k];
                for (int j = 0; j < columns; j++) x[r * columns + j] += zk * a[k * columns + j];
            }
        for (int i = 0; i < x.Length; i++) x[i] *= scale[i % columns] / MathF.Sqrt(columns);
        return new Tensor(x, rows, columns);
    }

    public static float[] Normal(int count, Rng rng) => Enumerable.Range(0, count).Select(_ => rng.NextNormal()).ToArray();

    public static int PruneCount(double sparsity, int count) => (int)Math.Round(sparsity * count, MidpointRounding.AwayFromZero);

    // Column c leaves the inverse: [H⁻¹]_ij −= [H⁻¹]_ic · [H⁻¹]_cj / [H⁻¹]_cc for i, j > c (GPTQ and SparseGPT alike).
    internal static void Eliminate(double[] hinv, int n, int c)
    {
        for (int i = c + 1; i < n; i++)
            for (int j = c + 1; j < n; j++) hinv[i * n + j] -= hinv[i * n + c] * hinv[c * n + j] / hinv[c * n + c];
    }

    // Gauss–Jordan inversion with partial pivoting.
    internal static double[] Invert(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inverse = new double[n * n];
        for (int i = 0; i < n; i++) inverse[i * n + i] = 1;
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(m[r * n + c]) > Math.Abs(m[p * n + c])) p = r;
            for (int j = 0; j < n; j++)
            {
                (m[c * n + j], m[p * n + j]) = (m[p * n + j], m[c * n + j]);
                (inverse[c * n + j], inverse[p * n + j]) = (inverse[p * n + j], inverse[c * n + j]);
            }
            double d = m[c * n + c];
            for (int j = 0; j < n; j++) { m[c * n + j] /= d; inverse[c * n + j] /= d; }
            for (int r = 0; r < n; r++)
            {
                if (r == c) continue;
                double f = m[r * n + c];
                if (f == 0) continue;
                for (int j = 0; j < n; j++) { m[r * n + j] -= f * m[c * n + j]; inverse[r * n + j] -= f * inverse[c * n + j]; }
            }
        }
        return inverse;
    }
}
