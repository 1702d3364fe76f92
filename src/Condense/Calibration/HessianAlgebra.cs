// The dense linear algebra GPTQ and SparseGPT need, in double: U, the upper Cholesky factor of H⁻¹ (UᵀU = H⁻¹), whose row q
// divided by U_qq is row q of the inverse Hessian after columns 0..q−1 were eliminated (Frantar et al. 2022,
// §4 step 3). The reference takes chol(H), inverts it to H⁻¹ and factors again (4/3 n³ flops); here H = VVᵀ
// with V upper comes from a Cholesky of H with rows and columns reversed, and U = V⁻¹ (2/3 n³ flops, the same
// unique factor). Both steps are blocked so that the working set stays in cache and run on Cpu.Threads threads.
// Also shared by both: the dampening of H and the lazy batch's deferred update of the columns after a batch.
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Calibration;

internal static class HessianAlgebra
{
    private const int Panel = 64;
    // Columns of the trailing update done at once: 64 × 256 doubles of the transposed panel stay in L2.
    private const int UpdateTile = 256;
    // Columns of the lazy batch's deferred update done at once, so that the U tile (batch × tile doubles) stays in L2.
    private const int UpdateTileColumns = 256;

    /// <summary>U upper triangular (row-major n × n, zeros below the diagonal) with UᵀU = H⁻¹; H must be positive definite.</summary>
    public static double[] InverseCholeskyUpper(double[] h, int n)
    {
        // P H P with P the reversal: its lower Cholesky factor L gives H = (PLP)(PLP)ᵀ, PLP upper.
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
        CholeskyLower(a, n);
        // U = (PLP)⁻¹ = P L⁻¹ P: U[p, q] = L⁻¹[n−1−p, n−1−q]. Columns of L⁻¹ are independent forward solves.
        var u = new double[n * n];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Cpu.Threads };
        Parallel.For(0, (n + Panel - 1) / Panel, options, tile => InvertTileReversed(a, n, tile * Panel, u));
        return u;
    }

    /// <summary>In-place lower Cholesky factorisation of the lower triangle of <paramref name="a"/> (right-looking, blocked).</summary>
    internal static void CholeskyLower(double[] a, int n)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = Cpu.Threads };
        for (int k0 = 0; k0 < n; k0 += Panel)
        {
            int k1 = Math.Min(k0 + Panel, n);
            FactorDiagonalBlock(a, n, k0, k1);
            if (k1 == n) break;
            Parallel.ForEach(Chunks(k1, n), options, rows => SolvePanel(a, n, k0, k1, rows.Start, rows.End));
            // The panel transposed, contiguous along the trailing columns, for the update's axpys.
            int m = n - k1;
            var transposed = new double[(k1 - k0) * m];
            for (int j = k1; j < n; j++)
                for (int k = k0; k < k1; k++) transposed[(k - k0) * m + j - k1] = a[j * n + k];
            Parallel.ForEach(Chunks(k1, n), options, rows => UpdateTrailing(a, n, k0, k1, transposed, rows.Start, rows.End));
        }
        for (int i = 0; i < n; i++) Array.Clear(a, i * n + i + 1, n - i - 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FactorDiagonalBlock(double[] a, int n, int k0, int k1)
    {
        for (int j = k0; j < k1; j++)
        {
            double d = a[j * n + j] - Dot(a, j * n + k0, j * n + k0, j - k0);
            if (!(d > 0) || !double.IsFinite(d))
                throw new CondenseException("GPTQ: the damped Hessian is not positive definite; raise the dampening");
            double diagonal = Math.Sqrt(d);
            a[j * n + j] = diagonal;
            for (int i = j + 1; i < k1; i++) a[i * n + j] = (a[i * n + j] - Dot(a, i * n + k0, j * n + k0, j - k0)) / diagonal;
        }
    }

    // Rows [start, end) of the panel below the diagonal block: L[i, k0:k1] solves against the block's factor.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SolvePanel(double[] a, int n, int k0, int k1, int start, int end)
    {
        for (int i = start; i < end; i++)
            for (int j = k0; j < k1; j++)
                a[i * n + j] = (a[i * n + j] - Dot(a, i * n + k0, j * n + k0, j - k0)) / a[j * n + j];
    }

    // Rows [start, end) of the trailing lower triangle lose the panel's contribution, A[i, j] −= L[i, k0:k1] · L[j, k0:k1],
    // as axpys along the row against the transposed panel, a column tile at a time so the tile stays in L2.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateTrailing(double[] a, int n, int k0, int k1, double[] transposed, int start, int end)
    {
        int m = n - k1, width = k1 - k0;
        for (int t0 = k1; t0 < end; t0 += UpdateTile)
            for (int i = Math.Max(start, t0); i < end; i++)
            {
                var target = a.AsSpan(i * n + t0, Math.Min(UpdateTile, i + 1 - t0));
                int row = i * n + k0, k = 0;
                for (; k + 4 <= width; k += 4)
                    Axpy4(-a[row + k], -a[row + k + 1], -a[row + k + 2], -a[row + k + 3], transposed, k * m + t0 - k1, m, target);
                for (; k < width; k++) Axpy(-a[row + k], transposed.AsSpan(k * m + t0 - k1, target.Length), target);
            }
    }

    // Columns j0..j0+Panel−1 of M = L⁻¹ by forward substitution (rows above j0 are zero; a row of the tile is
    // a combination of the rows before it), written into U reversed: U[n−1−i, n−1−j] = M[i, j].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InvertTileReversed(double[] l, int n, int j0, double[] u)
    {
        int width = Math.Min(Panel, n - j0);
        var m = new double[(n - j0) * Panel];
        for (int i = j0; i < n; i++)
        {
            var row = m.AsSpan((i - j0) * Panel, Panel);
            if (i - j0 < width) row[i - j0] = 1;
            int k = j0;
            for (; k + 4 <= i; k += 4)
                Axpy4(-l[i * n + k], -l[i * n + k + 1], -l[i * n + k + 2], -l[i * n + k + 3], m, (k - j0) * Panel, Panel, row);
            for (; k < i; k++) Axpy(-l[i * n + k], m.AsSpan((k - j0) * Panel, Panel), row);
            double inverse = 1 / l[i * n + i];
            for (int c = 0; c < Panel; c++) row[c] *= inverse;
            for (int c = 0; c < width && j0 + c <= i; c++) u[(n - 1 - i) * n + (n - 1 - j0 - c)] = row[c];
        }
    }

    /// <summary>
    /// Dead columns (an input that is always 0, H_ii = 0) get H_ii = 1 and W[:, i] = 0 (nothing is learnt about
    /// them and they cost nothing); then λ = dampening · mean(diag H) goes on the diagonal (GPTQ §4 step 3, for numerical stability).
    /// </summary>
    internal static void PrepareHessian(double[] h, double[] w, int n, double dampening)
    {
        int rows = w.Length / n;
        double trace = 0;
        for (int i = 0; i < n; i++)
        {
            if (h[i * n + i] == 0)
            {
                h[i * n + i] = 1;
                for (int r = 0; r < rows; r++) w[r * n + i] = 0;
            }
            trace += h[i * n + i];
        }
        double damp = dampening * trace / n;
        for (int i = 0; i < n; i++) h[i * n + i] += damp;
    }

    /// <summary>W[r, i2..n) −= Σ_k E[r, k] · U[i1 + k, i2..n) for the chunk's rows: the lazy batch's deferred update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void UpdateRest(double[] w, double[] u, int n, int i1, int i2, int rowStart, int rowEnd, double[] errors, int batch)
    {
        int count = i2 - i1;
        for (int j0 = i2; j0 < n; j0 += UpdateTileColumns)
        {
            int width = Math.Min(UpdateTileColumns, n - j0);
            for (int r = rowStart; r < rowEnd; r++)
            {
                var target = w.AsSpan(r * n + j0, width);
                var e = errors.AsSpan((r - rowStart) * batch, count);
                int k = 0;
                // Four error columns per pass over the target: a quarter of the loads and stores of w.
                for (; k + 4 <= count; k += 4)
                    Axpy4(-e[k], -e[k + 1], -e[k + 2], -e[k + 3], u, (i1 + k) * n + j0, n, target);
                for (; k < count; k++)
                    if (e[k] != 0) Axpy(-e[k], u.AsSpan((i1 + k) * n + j0, width), target);
            }
        }
    }

    /// <summary>Σ a[x + k] · a[y + k] for k &lt; length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Dot(double[] a, int x, int y, int length)
    {
        var u = a.AsSpan(x, length);
        var v = a.AsSpan(y, length);
        double sum = 0;
        int k = 0;
        if (Vector.IsHardwareAccelerated && length >= Vector<double>.Count)
        {
            var uv = MemoryMarshal.Cast<double, Vector<double>>(u);
            var vv = MemoryMarshal.Cast<double, Vector<double>>(v);
            var s = Vector<double>.Zero;
            for (int c = 0; c < uv.Length; c++) s += uv[c] * vv[c];
            sum = Vector.Sum(s);
            k = uv.Length * Vector<double>.Count;
        }
        for (; k < length; k++) sum += u[k] * v[k];
        return sum;
    }

    /// <summary>y += alpha · x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var xv = MemoryMarshal.Cast<double, Vector<double>>(x);
            var yv = MemoryMarshal.Cast<double, Vector<double>>(y);
            var a = new Vector<double>(alpha);
            for (int c = 0; c < xv.Length; c++) yv[c] += a * xv[c];
            k = xv.Length * Vector<double>.Count;
        }
        for (; k < x.Length; k++) y[k] += alpha * x[k];
    }

    /// <summary>y += a0·u[row0..] + a1·u[row0 + stride..] + a2·u[row0 + 2·stride..] + a3·u[row0 + 3·stride..] over y's length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Axpy4(double a0, double a1, double a2, double a3, double[] u, int row0, int stride, Span<double> y)
    {
        var x0 = u.AsSpan(row0, y.Length);
        var x1 = u.AsSpan(row0 + stride, y.Length);
        var x2 = u.AsSpan(row0 + 2 * stride, y.Length);
        var x3 = u.AsSpan(row0 + 3 * stride, y.Length);
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int lanes = Vector<double>.Count;
            var v0 = new Vector<double>(a0);
            var v1 = new Vector<double>(a1);
            var v2 = new Vector<double>(a2);
            var v3 = new Vector<double>(a3);
            for (; k + lanes <= y.Length; k += lanes)
            {
                var sum = new Vector<double>(y.Slice(k)) + v0 * new Vector<double>(x0.Slice(k))
                    + v1 * new Vector<double>(x1.Slice(k)) + v2 * new Vector<double>(x2.Slice(k))
                    + v3 * new Vector<double>(x3.Slice(k));
                sum.CopyTo(y.Slice(k));
            }
        }
        for (; k < y.Length; k++) y[k] += a0 * x0[k] + a1 * x1[k] + a2 * x2[k] + a3 * x3[k];
    }

    /// <summary>[start, end) split into ranges of about 16 rows for Parallel.ForEach.</summary>
    internal static IEnumerable<(int Start, int End)> Chunks(int start, int end, int size = 16)
    {
        for (int s = start; s < end; s += size) yield return (s, Math.Min(end, s + size));
    }
}
