// The public fp32 GEMM: C = alpha·op(A)·op(B) + beta·C on row-major spans, as in BLAS sgemm. It checks
// shapes, pins the spans and picks the micro-kernel for Cpu.Active; one-row products go to Gemv.cs and
// everything else to the blocked driver in GemmDriver.cs, which also takes a B packed once (GemmPackedB.cs: constant
// weights at inference). GemmReference.cs is the specification.
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>Single-precision general matrix multiply.</summary>
public static unsafe class Gemm
{
    /// <summary>
    /// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, all row-major. op(A) = A (A is M×K, lda ≥ K), or
    /// Aᵀ when <paramref name="transA"/> (A stored K×M, lda ≥ M); likewise op(B) = B (K×N, ldb ≥ N) or Bᵀ
    /// (B stored N×K, ldb ≥ K). beta == 0 overwrites C without reading it, so NaNs already in C are
    /// ignored; alpha == 0 or k == 0 reads neither A nor B. C must not overlap A or B. Results are
    /// bit-identical from call to call and for any <see cref="Cpu.Threads"/>; they differ (within
    /// rounding) between kernel paths.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            Run(Cpu.Active, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    /// <summary>
    /// The unchecked core of
    /// <see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// on a given path, for kernels built on GEMM (convolution) that call it from worker threads, where
    /// <see cref="Cpu.Active"/> may differ from the caller's.
    /// </summary>
    internal static void Run(KernelPath path, bool transA, bool transB, int m, int n, int k, float alpha,
        float* pa, int lda, float* pb, int ldb, float beta, float* pc, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) { Scale(m, n, beta, pc, ldc); return; }
        if (m == 1) { Gemv.Run(path, transA, transB, n, k, alpha, pa, lda, pb, ldb, beta, pc); return; }
        switch (path)
        {
            case KernelPath.Avx512:
                GemmDriver<GemmKernelAvx512>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                break;
            case KernelPath.Avx2:
                GemmDriver<GemmKernelAvx2>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                break;
            default:
                GemmDriver<GemmKernelScalar>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                break;
        }
    }

    /// <summary>
    /// C[M,N] = alpha · op(A)[M,K] · B + beta · C for B packed once (<see cref="GemmPackedB"/>: K and N are its), bit for bit what
    /// the unpacked call gives on the same path; <paramref name="b"/> must have been packed for <see cref="Cpu.Active"/>.
    /// </summary>
    public static void Multiply(bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda, GemmPackedB b, float beta, Span<float> c, int ldc)
    {
        ArgumentNullException.ThrowIfNull(b);
        var path = Cpu.Active;
        if (b.Path != path) throw new ArgumentException($"B was packed for {b.Path}, the active path is {path}", nameof(b));
        int n = b.N, k = b.K;
        Validate(transA, false, m, n, k, a.Length, lda, k * n, Math.Max(1, n), c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pc = c)
        {
            if (k == 0 || alpha == 0f) { Scale(m, n, beta, pc, ldc); return; }
            switch (path)
            {
                case KernelPath.Avx512:
                    GemmDriver<GemmKernelAvx512>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b);
                    break;
                case KernelPath.Avx2:
                    GemmDriver<GemmKernelAvx2>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b);
                    break;
                default:
                    GemmDriver<GemmKernelScalar>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b);
                    break;
            }
        }
    }

    /// <summary>C = op(A) · op(B) with tight leading dimensions (alpha = 1, beta = 0).</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c) =>
        Multiply(transA, transB, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, 0f, c, n);

    private static void Scale(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        // A is stored rowsA × colsA, and so on; a leading dimension is at least the stored row length.
        (int rowsA, int colsA) = transA ? (k, m) : (m, k);
        (int rowsB, int colsB) = transB ? (n, k) : (k, n);
        CheckMatrix("a", rowsA, colsA, lda, aLength, nameof(lda));
        CheckMatrix("b", rowsB, colsB, ldb, bLength, nameof(ldb));
        CheckMatrix("c", m, n, ldc, cLength, nameof(ldc));
    }

    private static void CheckMatrix(string name, int rows, int cols, int ld, int length, string ldName)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(ldName, ld, $"{ldName} must be at least {Math.Max(1, cols)}");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"{name} holds {length} elements, a {rows}×{cols} matrix with leading dimension {ld} needs {needed}", name);
    }
}
