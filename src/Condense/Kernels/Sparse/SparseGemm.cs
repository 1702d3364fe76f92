// Sparse × dense products for pruned Linear layers: Y = X·Wᵀ + b with W in CSR (CsrMatrix.cs). One-row
// inputs (batch-1 inference) run, on AVX-512, 16 rows at a time over a sliced copy of W whose inputs come
// from permute tables (SparseGemm.Blocks.cs, CsrBlocks.cs), elsewhere a gather-based sparse dot product per
// output (SparseGemm.Row.cs); larger batches transpose X once and accumulate W[o, j]·Xᵀ[j, :] into a
// batch-long strip per output (SparseGemm.Batch.cs). Threads split the outputs, never a sum, so results
// do not depend on Cpu.Threads. SparseGemmReference.cs is the specification.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Sparse;

/// <summary>Sparse-weight matrix products.</summary>
public static unsafe partial class SparseGemm
{
    /// <summary>
    /// Y (m × rows) = X (m × cols) · Wᵀ + bias with W the CSR matrix: a Linear layer y = x·Wᵀ + b on a batch
    /// of m rows. <paramref name="bias"/> is empty (no bias) or holds W.Rows values; x holds exactly m·W.Cols
    /// and y exactly m·W.Rows floats. Y is overwritten. Results are bit-identical from call to call and for
    /// any <see cref="Cpu.Threads"/>; they differ (within rounding) between kernel paths.
    /// </summary>
    public static void LinearForward(CsrMatrix w, ReadOnlySpan<float> x, int m, ReadOnlySpan<float> bias, Span<float> y)
    {
        Validate(w, x.Length, m, bias.Length, y.Length);
        if (m == 0 || w.Rows == 0) return;
        var path = Cpu.Active;
        fixed (float* px = x, pb = bias, py = y)
        {
            var k = new Operands(w, path, pb, bias.IsEmpty);
            fixed (float* values = w.Values)
            fixed (int* columns = w.ColumnIndices, starts = w.RowStarts)
            {
                k.Values = values; k.Columns = columns; k.Starts = starts;
                if (m == 1 && path == KernelPath.Avx512) RunBlocks(ref k, w.Blocks, px, py);
                else if (m == 1) RunRows(ref k, px, py);
                else RunBatch(ref k, px, m, py);
            }
        }
    }

    internal static void Validate(CsrMatrix w, int xLength, int m, int biasLength, int yLength)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (xLength != (long)m * w.Cols)
            throw new ArgumentException($"x holds {xLength} elements, a {m}×{w.Cols} batch has {(long)m * w.Cols}", "x");
        if (yLength != (long)m * w.Rows)
            throw new ArgumentException($"y holds {yLength} elements, a {m}×{w.Rows} batch has {(long)m * w.Rows}", "y");
        if (biasLength != 0 && biasLength != w.Rows)
            throw new ArgumentException($"bias holds {biasLength} elements, expected 0 or {w.Rows}", "bias");
    }

    /// <summary>The pinned weight, bias and path of one call, shared read-only by its threads.</summary>
    private struct Operands(CsrMatrix w, KernelPath path, float* bias, bool noBias)
    {
        public readonly int Rows = w.Rows, Cols = w.Cols, NonZeros = w.NonZeros;
        public readonly KernelPath Path = path;
        public readonly float* Bias = noBias ? null : bias;
        public float* Values;
        public int* Columns, Starts;

        public readonly float BiasOf(int o) => Bias == null ? 0f : Bias[o];
    }

    /// <summary>
    /// Splits rows 0..Rows-1 into <paramref name="parts"/> runs of about equal non-zero counts; returns part
    /// <paramref name="part"/>'s first row. Only which thread computes a row depends on this, never its bits.
    /// </summary>
    private static int SplitRow(in Operands k, int part, int parts)
    {
        if (part == 0) return 0;
        if (part == parts) return k.Rows;
        long target = (long)k.NonZeros * part / parts;
        // The first row whose start reaches the target: rows are whole, so parts are balanced to within a row.
        int lo = 0, hi = k.Rows;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (k.Starts[mid] < target) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
