// Compressed sparse rows (CSR): the storage of a pruned Linear weight for the sparse kernels in
// SparseGemm.cs. Row r's non-zeros are Values[RowStarts[r] .. RowStarts[r + 1]) at columns
// ColumnIndices[same range], in increasing column order (as in SciPy's csr_matrix and MKL's CSR).
namespace Condense.Kernels.Sparse;

/// <summary>Compressed sparse rows of a (rows × cols) float matrix.</summary>
public sealed class CsrMatrix
{
    private CsrMatrix(int rows, int cols, float[] values, int[] columnIndices, int[] rowStarts)
    {
        Rows = rows;
        Cols = cols;
        Values = values;
        ColumnIndices = columnIndices;
        RowStarts = rowStarts;
        long size = (long)rows * cols;
        Density = size == 0 ? 0 : (double)values.Length / size;
    }

    /// <summary>Number of rows (a Linear layer's out features).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (a Linear layer's in features).</summary>
    public int Cols { get; }

    /// <summary>The non-zeros, row by row, each row in increasing column order.</summary>
    public float[] Values { get; }

    /// <summary>The column of each entry of <see cref="Values"/>.</summary>
    public int[] ColumnIndices { get; }

    /// <summary>Rows + 1 offsets into <see cref="Values"/>: row r is [RowStarts[r], RowStarts[r + 1]).</summary>
    public int[] RowStarts { get; }

    /// <summary>How many entries are stored.</summary>
    public int NonZeros => Values.Length;

    /// <summary>NonZeros / (Rows · Cols); 0 for an empty matrix.</summary>
    public double Density { get; }

    private CsrBlocks? _blocks;

    /// <summary>The layout of the AVX-512 batch-1 kernel, built on first use (the arrays above are not to be changed after that).</summary>
    internal CsrBlocks Blocks
    {
        get
        {
            if (_blocks is { } b) return b;
            Interlocked.CompareExchange(ref _blocks, new CsrBlocks(this), null);
            return _blocks;
        }
    }

    /// <summary>Keeps the entries of the row-major <paramref name="dense"/> (rows × cols) that are not zero (v != 0, so NaNs stay).</summary>
    public static CsrMatrix FromDense(ReadOnlySpan<float> dense, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (dense.Length != (long)rows * cols)
            throw new ArgumentException($"dense holds {dense.Length} elements, a {rows}×{cols} matrix has {(long)rows * cols}", nameof(dense));
        int count = 0;
        foreach (float v in dense) if (v != 0f) count++;
        var values = new float[count];
        var columns = new int[count];
        var starts = new int[rows + 1];
        int at = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = dense.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++)
            {
                if (row[c] == 0f) continue;
                values[at] = row[c];
                columns[at++] = c;
            }
            starts[r + 1] = at;
        }
        return new CsrMatrix(rows, cols, values, columns, starts);
    }

    /// <summary>Writes the matrix, zeros included, to the row-major <paramref name="dense"/> (rows × cols).</summary>
    public void ToDense(Span<float> dense)
    {
        if (dense.Length != (long)Rows * Cols)
            throw new ArgumentException($"dense holds {dense.Length} elements, a {Rows}×{Cols} matrix has {(long)Rows * Cols}", nameof(dense));
        dense.Clear();
        for (int r = 0; r < Rows; r++)
            for (int p = RowStarts[r]; p < RowStarts[r + 1]; p++)
                dense[r * Cols + ColumnIndices[p]] = Values[p];
    }
}
