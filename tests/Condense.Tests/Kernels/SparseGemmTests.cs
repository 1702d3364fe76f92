// CsrMatrix and SparseGemm against their specifications: the CSR round trip at several densities and
// ragged shapes, LinearForward against the dense product GemmReference computes (x·Wᵀ + b) on every kernel
// path, bit-for-bit determinism across thread counts, masked tails that must not leak a neighbour's
// infinities, and argument checks.
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Sparse;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class SparseGemmTests
{
    private static readonly (int Rows, int Cols)[] Shapes = [(1, 1), (7, 33), (300, 784), (100, 300), (10, 100)];
    private static readonly double[] Densities = [0, 0.01, 0.1, 0.5, 1];

    // (rows, cols, density): the LeNet-300-100 layers at typical pruned densities plus ragged small ones.
    private static readonly (int Rows, int Cols, double Density)[] Layers =
        [(1, 1, 1), (7, 33, 0.5), (300, 784, 0.1), (100, 300, 0.3), (10, 100, 0.05), (33, 65, 0.01)];

    public static TheoryData<int, int, double> RoundTripCases()
    {
        var data = new TheoryData<int, int, double>();
        foreach (var (r, c) in Shapes) foreach (double d in Densities) data.Add(r, c, d);
        return data;
    }

    public static TheoryData<KernelPath, int, int, double, int, bool> ForwardCases()
    {
        var data = new TheoryData<KernelPath, int, int, double, int, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (var (r, c, d) in Layers)
                foreach (int m in new[] { 1, 2, 7, 64, 257 })
                    foreach (bool bias in new[] { false, true })
                        data.Add(path, r, c, d, m, bias);
        return data;
    }

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void FromDenseToDenseRoundTrips(int rows, int cols, double density)
    {
        var dense = RandomSparse(rows, cols, density, seed: (ulong)(rows * 1000 + cols));
        var csr = CsrMatrix.FromDense(dense, rows, cols);
        int nonZeros = dense.Count(v => v != 0f);
        Assert.Equal((rows, cols, nonZeros), (csr.Rows, csr.Cols, csr.NonZeros));
        Assert.Equal((double)nonZeros / (rows * cols), csr.Density, 12);
        Assert.Equal(rows + 1, csr.RowStarts.Length);
        Assert.Equal(nonZeros, csr.ColumnIndices.Length);
        for (int r = 0; r < rows; r++)
            for (int p = csr.RowStarts[r] + 1; p < csr.RowStarts[r + 1]; p++)
                Assert.True(csr.ColumnIndices[p - 1] < csr.ColumnIndices[p]);
        var back = new float[rows * cols];
        Array.Fill(back, float.NaN);
        csr.ToDense(back);
        Assert.Equal(dense, back);
    }

    [Fact]
    public void RowsWithoutNonZerosAndAllZeroMatricesRoundTripAndYieldTheBias()
    {
        var dense = RandomSparse(5, 9, 0.5, seed: 4);
        dense.AsSpan(2 * 9, 9).Clear();   // row 2 is empty
        dense.AsSpan(4 * 9, 9).Clear();   // so is the last row
        var csr = CsrMatrix.FromDense(dense, 5, 9);
        Assert.Equal(csr.RowStarts[2], csr.RowStarts[3]);
        Assert.Equal(csr.NonZeros, csr.RowStarts[5]);
        var back = new float[45];
        csr.ToDense(back);
        Assert.Equal(dense, back);

        var zero = CsrMatrix.FromDense(new float[6 * 4], 6, 4);
        Assert.Equal((0, 0.0), (zero.NonZeros, zero.Density));
        Assert.All(zero.RowStarts, s => Assert.Equal(0, s));
        float[] bias = [1, 2, 3, 4, 5, 6];
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            foreach (int m in new[] { 1, 3 })
            {
                var y = Enumerable.Repeat(float.NaN, m * 6).ToArray();
                SparseGemm.LinearForward(zero, new float[m * 4], m, bias, y);
                for (int i = 0; i < m; i++) Assert.Equal(bias, y.AsSpan(i * 6, 6).ToArray());
                SparseGemm.LinearForward(csr, Enumerable.Repeat(1f, m * 9).ToArray(), m, [], y.AsSpan(0, m * 5));
                for (int i = 0; i < m; i++) Assert.Equal((0f, 0f), (y[i * 5 + 2], y[i * 5 + 4]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void LinearForwardMatchesTheDenseProduct(KernelPath path, int rows, int cols, double density, int m, bool withBias)
    {
        var problem = Problem.Get(rows, cols, density, m);
        var bias = withBias ? problem.Bias : [];
        var y = Enumerable.Repeat(float.NaN, m * rows).ToArray();
        using (Cpu.Force(path)) SparseGemm.LinearForward(problem.Csr, problem.X, m, bias, y);
        var spec = Enumerable.Repeat(float.NaN, m * rows).ToArray();
        SparseGemmReference.LinearForward(problem.Csr, problem.X, m, bias, spec);
        for (int i = 0; i < m; i++)
        {
            for (int o = 0; o < rows; o++)
            {
                int at = i * rows + o;
                float b = withBias ? bias[o] : 0f;
                double expected = problem.Product[at] + b, allowed = 1e-5 * (problem.Scale[at] + Math.Abs(b)) + 1e-30;
                Assert.True(Math.Abs(y[at] - expected) <= allowed, $"y[{i},{o}] = {y[at]}, dense {expected} (allowed {allowed:g3})");
                Assert.True(Math.Abs(spec[at] - expected) <= allowed, $"reference y[{i},{o}] = {spec[at]}, dense {expected}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void IsBitIdenticalAcrossCallsAndThreadCounts(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            // 300×784 at density 0.5 (118K non-zeros) is split across threads at every batch size.
            var problem = Problem.Get(300, 784, 0.5, 64);
            foreach (int m in new[] { 1, 64 })
            {
                var x = problem.X.AsSpan(0, m * 784).ToArray();
                var runs = new List<float[]>();
                foreach (int threads in new[] { 2, 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    var y = new float[m * 300];
                    SparseGemm.LinearForward(problem.Csr, x, m, problem.Bias, y);
                    runs.Add(y);
                }
                foreach (var r in runs) Assert.Equal(runs[0], r);
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void MaskedTailsIgnoreTheNextRowsInputs(KernelPath path)
    {
        // Row 0 has 3 entries; row 1's 30 entries sit on inputs that are infinite. A vector path reads row 0's
        // tail past its end into row 1 and must drop those lanes, products included (0·∞ would be NaN).
        var dense = new float[2 * 40];
        dense[0] = 1; dense[1] = 2; dense[2] = 3;
        for (int c = 10; c < 40; c++) dense[40 + c] = 1;
        var csr = CsrMatrix.FromDense(dense, 2, 40);
        var x = new float[40];
        x[0] = 1; x[1] = 1; x[2] = 1;
        for (int c = 10; c < 40; c++) x[c] = float.PositiveInfinity;
        var y = new float[2];
        using (Cpu.Force(path)) SparseGemm.LinearForward(csr, x, 1, [], y);
        Assert.Equal(6f, y[0]);
        Assert.Equal(float.PositiveInfinity, y[1]);

        // Padding lanes (row 0 has one entry, row 1 four) point at column 0, whose input is infinite but unused.
        var padded = CsrMatrix.FromDense([0, 0, 0, 0, 0, 2, 0, 1, 1, 1, 1, 0], 2, 6);
        float[] x2 = [float.PositiveInfinity, 1, 1, 1, 1, 1];
        using (Cpu.Force(path)) SparseGemm.LinearForward(padded, x2, 1, [], y);
        Assert.Equal(new[] { 2f, 4f }, y);
    }

    [Fact]
    public void RejectsWrongLengths()
    {
        var csr = CsrMatrix.FromDense(RandomSparse(4, 3, 0.5, seed: 1), 4, 3);
        Assert.ThrowsAny<ArgumentException>(() => SparseGemm.LinearForward(csr, new float[5], 2, [], new float[8]));
        Assert.ThrowsAny<ArgumentException>(() => SparseGemm.LinearForward(csr, new float[6], 2, [], new float[7]));
        Assert.ThrowsAny<ArgumentException>(() => SparseGemm.LinearForward(csr, new float[6], 2, new float[3], new float[8]));
        Assert.ThrowsAny<ArgumentException>(() => SparseGemm.LinearForward(csr, new float[6], -1, [], new float[8]));
        Assert.ThrowsAny<ArgumentException>(() => SparseGemm.LinearForward(null!, new float[6], 2, [], new float[8]));
        Assert.ThrowsAny<ArgumentException>(() => CsrMatrix.FromDense(new float[11], 4, 3));
        Assert.ThrowsAny<ArgumentException>(() => CsrMatrix.FromDense(new float[12], -4, -3));
        Assert.ThrowsAny<ArgumentException>(() => csr.ToDense(new float[13]));
        SparseGemm.LinearForward(csr, [], 0, [], []);   // an empty batch is fine
    }

    /// <summary>A (rows × cols) matrix whose entries are non-zero normals with probability <paramref name="density"/>.</summary>
    private static float[] RandomSparse(int rows, int cols, double density, ulong seed)
    {
        var rng = new Rng(seed);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++)
        {
            float v = rng.NextNormal();
            w[i] = rng.NextDouble() < density && v != 0f ? v : 0f;
        }
        return w;
    }

    /// <summary>One random layer and batch with its dense product and error scale, computed once and shared by the paths.</summary>
    private sealed record Problem(CsrMatrix Csr, float[] X, float[] Bias, float[] Product, float[] Scale)
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int, double, int), Problem> s_cache = new();

        public static Problem Get(int rows, int cols, double density, int m) =>
            s_cache.GetOrAdd((rows, cols, density, m), _ => Create(rows, cols, density, m));

        private static Problem Create(int rows, int cols, double density, int m)
        {
            var w = RandomSparse(rows, cols, density, seed: (ulong)(rows * 7919 + cols));
            var rng = new Rng((ulong)m + 11);
            var x = new float[m * cols];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextNormal();
            var bias = new float[rows];
            for (int i = 0; i < rows; i++) bias[i] = rng.NextNormal();
            // y = x·Wᵀ; the rounding error is bounded by a multiple of Σ_j |x||w|, computed by the same loop.
            var product = new float[m * rows];
            GemmReference.Multiply(false, true, m, rows, cols, 1f, x, cols, w, cols, 0f, product, rows);
            var scale = new float[m * rows];
            GemmReference.Multiply(false, true, m, rows, cols, 1f, x.Select(Math.Abs).ToArray(), cols,
                w.Select(Math.Abs).ToArray(), cols, 0f, scale, rows);
            return new Problem(CsrMatrix.FromDense(w, rows, cols), x, bias, product, scale);
        }
    }
}
