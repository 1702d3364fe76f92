// Σ xᵀy over streamed rows, as InputHessian and CrossMoments need it. Rows are buffered until a chunk is full and then
// multiplied by one float32 GEMM and added to a double sum: calibration hands over one short passage (a few dozen rows)
// at a time, and adding a [in, out] partial product per passage cost far more than the GEMM itself (MiniLM's FFN
// Hessians over 1,024 passages: 120 s, about 8 s buffered). Short float sums keep rounding near 1e-6 relative.
using Condense.Kernels.FloatGemm;

namespace Condense.Calibration;

/// <summary>
/// Streaming Σ xᵀ y in double over rows x ∈ ℝ^inputs and y ∈ ℝ^outputs; when symmetric, y = x and only the lower triangle
/// (column ≤ row) of the sum is kept up to date.
/// </summary>
internal sealed class ProductSum
{
    // Rows per float32 GEMM before the partial sum moves into the double accumulator.
    internal const int ChunkRows = 512;
    // Column blocks of a symmetric product: only blocks on or below the diagonal are multiplied (about half the work at the
    // widths of transformer FFNs).
    private const int Block = 256;

    private readonly int _inputs, _outputs;
    private readonly bool _symmetric;
    private readonly double[] _sum;
    private float[]? _pendingX, _pendingY, _chunk;
    private int _pendingRows;

    public ProductSum(int inputs, int outputs, bool symmetric)
    {
        _inputs = inputs;
        _outputs = outputs;
        _symmetric = symmetric;
        _sum = new double[inputs * outputs];
    }

    /// <summary>Adds <paramref name="rows"/> rows of x [rows, inputs] and y [rows, outputs] (y ignored when symmetric).</summary>
    public void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int rows)
    {
        int done = 0;
        // Whole chunks straight from the caller's rows when nothing waits; the rest through the buffer.
        while (_pendingRows == 0 && rows - done >= ChunkRows)
        {
            Multiply(x.Slice(done * _inputs, ChunkRows * _inputs), _symmetric ? default : y.Slice(done * _outputs, ChunkRows * _outputs), ChunkRows);
            done += ChunkRows;
        }
        while (done < rows)
        {
            _pendingX ??= new float[ChunkRows * _inputs];
            if (!_symmetric) _pendingY ??= new float[ChunkRows * _outputs];
            int take = Math.Min(ChunkRows - _pendingRows, rows - done);
            x.Slice(done * _inputs, take * _inputs).CopyTo(_pendingX.AsSpan(_pendingRows * _inputs));
            if (!_symmetric) y.Slice(done * _outputs, take * _outputs).CopyTo(_pendingY.AsSpan(_pendingRows * _outputs));
            _pendingRows += take;
            done += take;
            if (_pendingRows == ChunkRows) Flush();
        }
    }

    /// <summary>The sum so far (rows still buffered are multiplied in first); the accumulator's own array, not a copy.</summary>
    public double[] Sum()
    {
        Flush();
        return _sum;
    }

    private void Flush()
    {
        if (_pendingRows == 0) return;
        int rows = _pendingRows;
        _pendingRows = 0;
        Multiply(_pendingX.AsSpan(0, rows * _inputs), _symmetric ? default : _pendingY.AsSpan(0, rows * _outputs), rows);
    }

    private void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int rows)
    {
        _chunk ??= new float[_inputs * _outputs];
        if (_symmetric)
        {
            MultiplyLower(x, rows);
            return;
        }
        // chunk = Xᵀ · Y: A stored [rows, in] read transposed, B [rows, out] as stored.
        Gemm.Multiply(true, false, _inputs, _outputs, rows, 1f, x, _inputs, y, _outputs, 0f, _chunk, _outputs);
        var sum = _sum;
        var chunk = _chunk;
        for (int i = 0; i < sum.Length; i++) sum[i] += chunk[i];
    }

    // The blocks (bi, bj), bj ≤ bi, of Xᵀ X: each a GEMM on column slices of X, written into its place in the chunk.
    private void MultiplyLower(ReadOnlySpan<float> x, int rows)
    {
        int n = _inputs;
        var chunk = _chunk!;
        for (int bi = 0; bi < n; bi += Block)
        {
            int bRows = Math.Min(Block, n - bi);
            for (int bj = 0; bj <= bi; bj += Block)
            {
                int bCols = Math.Min(Block, n - bj);
                Gemm.Multiply(true, false, bRows, bCols, rows, 1f, x[bi..], n, x[bj..], n, 0f, chunk.AsSpan(bi * n + bj), n);
                for (int i = bi; i < bi + bRows; i++)
                {
                    var sumRow = _sum.AsSpan(i * n + bj, bCols);
                    var chunkRow = chunk.AsSpan(i * n + bj, bCols);
                    for (int j = 0; j < bCols; j++) sumRow[j] += chunkRow[j];
                }
            }
        }
    }
}
