// The specification of SparseGemm.LinearForward: plain loops over the stored non-zeros, written for
// clarity, not speed. Tests and the benchmark compare every fast path against it.
namespace Condense.Kernels.Sparse;

/// <summary>Naive sparse Linear forward with exactly the contract of <see cref="SparseGemm.LinearForward"/>.</summary>
internal static class SparseGemmReference
{
    /// <summary>Y = X·Wᵀ + bias: y[i, o] = Σ_p W.Values[p]·x[i, W.ColumnIndices[p]] over row o's entries, plus bias[o].</summary>
    public static void LinearForward(CsrMatrix w, ReadOnlySpan<float> x, int m, ReadOnlySpan<float> bias, Span<float> y)
    {
        SparseGemm.Validate(w, x.Length, m, bias.Length, y.Length);
        // x is (m, cols), y is (m, rows), W is (rows, cols) in CSR.
        for (int i = 0; i < m; i++)
        {
            for (int o = 0; o < w.Rows; o++)
            {
                float sum = 0f;
                for (int p = w.RowStarts[o]; p < w.RowStarts[o + 1]; p++)
                    sum += w.Values[p] * x[i * w.Cols + w.ColumnIndices[p]];
                y[i * w.Rows + o] = bias.IsEmpty ? sum : sum + bias[o];
            }
        }
    }
}
