// The public fp32 GEMM: C = alpha·op(A)·op(B) + beta·C on row-major spans, as in BLAS sgemm. It checks
// shapes, pins the spans and picks the micro-kernel for Cpu.Active; one-row products go to Gemv.cs and
// everything else to the blocked driver in GemmDriver.cs, which also takes a B packed once (GemmPackedB.cs: constant
// weights at inference); either can add a bias and apply an activation to each finished tile (GemmEpilogue.cs).
// GemmReference.cs is the specification.
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
    /// C = act(alpha · op(A) · op(B) + beta · C + bias) with <paramref name="bias"/> one value per column of C (empty: none)
    /// and <paramref name="activation"/> applied to each tile of C as it is finished (GemmEpilogue): what a Linear layer and
    /// the ReLU or GELU after it compute, without the passes over C that filling it with the bias and the activation would
    /// take. The bits are those of C filled with the bias, multiplied with beta = 1, then the activation, when beta is 0.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias, GemmActivation activation)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        CheckEpilogue(n, bias.Length, activation);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            Run(Cpu.Active, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, new GemmEpilogue(pbias, activation));
        }
    }

    /// <summary>
    /// The unchecked core of
    /// <see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// on a given path, for kernels built on GEMM (convolution) that call it from worker threads, where
    /// <see cref="Cpu.Active"/> may differ from the caller's.
    /// </summary>
    internal static void Run(KernelPath path, bool transA, bool transB, int m, int n, int k, float alpha,
        float* pa, int lda, float* pb, int ldb, float beta, float* pc, int ldc, GemmEpilogue epilogue = default)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) { Scale(m, n, beta, pc, ldc); Finish(path, epilogue, m, n, pc, ldc); return; }
        if (m == 1)
        {
            Gemv.Run(path, transA, transB, n, k, alpha, pa, lda, pb, ldb, beta, pc);
            Finish(path, epilogue, 1, n, pc, ldc);
            return;
        }
        switch (path)
        {
            case KernelPath.Avx512:
                GemmDriver<GemmKernelAvx512>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, null, epilogue);
                break;
            case KernelPath.Avx2:
                GemmDriver<GemmKernelAvx2>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, null, epilogue);
                break;
            default:
                GemmDriver<GemmKernelScalar>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, null, epilogue);
                break;
        }
    }

    /// <summary>
    /// C[M,N] = op(A)[M,K] · B with <paramref name="epilogue"/> (B packed for <paramref name="path"/>; alpha = 1, beta = 0): for
    /// kernels built on GEMM that multiply by a constant weight (a channels-last pointwise convolution).
    /// </summary>
    internal static void Run(KernelPath path, int m, float* pa, int lda, GemmPackedB b, float* pc, int ldc, GemmEpilogue epilogue) =>
        Run(path, false, m, 1f, pa, lda, b, 0f, pc, ldc, epilogue);

    /// <summary>The unchecked core of the products with B packed once, on a given path.</summary>
    private static void Run(KernelPath path, bool transA, int m, float alpha, float* pa, int lda, GemmPackedB b, float beta, float* pc, int ldc,
        GemmEpilogue epilogue)
    {
        if (b.Path != path) throw new ArgumentException($"B was packed for {b.Path}, the path is {path}", nameof(b));
        int n = b.N, k = b.K;
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) { Scale(m, n, beta, pc, ldc); Finish(path, epilogue, m, n, pc, ldc); return; }
        switch (path)
        {
            case KernelPath.Avx512:
                GemmDriver<GemmKernelAvx512>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b, epilogue);
                break;
            case KernelPath.Avx2:
                GemmDriver<GemmKernelAvx2>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b, epilogue);
                break;
            default:
                GemmDriver<GemmKernelScalar>.Run(transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, b, epilogue);
                break;
        }
    }

    /// <summary><paramref name="activation"/> in place on a tight m × n C, as the epilogue applies it, on the active path.</summary>
    internal static void Activate(Span<float> c, int m, int n, GemmActivation activation)
    {
        if (c.Length < (long)m * n) throw new ArgumentException($"c holds {c.Length} elements, a {m}×{n} matrix needs {(long)m * n}", nameof(c));
        fixed (float* pc = c) Finish(Cpu.Active, new GemmEpilogue(null, activation), m, n, pc, n);
    }

    // The epilogue over all of C, for the products that bypass the blocked driver.
    private static void Finish(KernelPath path, GemmEpilogue epilogue, int m, int n, float* c, int ldc)
    {
        if (!epilogue.IsEmpty) epilogue.Apply(path, c, ldc, m, n, 0, 0, first: true, last: true);
    }

    /// <summary>
    /// C[M,N] = alpha · op(A)[M,K] · B + beta · C for B packed once (<see cref="GemmPackedB"/>: K and N are its), bit for bit what
    /// the unpacked call gives on the same path; <paramref name="b"/> must have been packed for <see cref="Cpu.Active"/>.
    /// </summary>
    public static void Multiply(bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda, GemmPackedB b, float beta, Span<float> c, int ldc) =>
        Multiply(transA, m, alpha, a, lda, b, beta, c, ldc, default, GemmActivation.None);

    /// <summary>
    /// C = act(alpha · op(A) · B + beta · C + bias) for B packed once, with the bias and activation of the unpacked
    /// product's overload that takes them.
    /// </summary>
    public static void Multiply(bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda, GemmPackedB b, float beta, Span<float> c, int ldc,
        ReadOnlySpan<float> bias, GemmActivation activation)
    {
        ArgumentNullException.ThrowIfNull(b);
        var path = Cpu.Active;
        if (b.Path != path) throw new ArgumentException($"B was packed for {b.Path}, the active path is {path}", nameof(b));
        int n = b.N, k = b.K;
        Validate(transA, false, m, n, k, a.Length, lda, k * n, Math.Max(1, n), c.Length, ldc);
        CheckEpilogue(n, bias.Length, activation);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pc = c, pbias = bias) Run(path, transA, m, alpha, pa, lda, b, beta, pc, ldc, new GemmEpilogue(pbias, activation));
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

    private static void CheckEpilogue(int n, int biasLength, GemmActivation activation)
    {
        if (biasLength != 0 && biasLength != n) throw new ArgumentException($"the bias holds {biasLength} values, C has {n} columns", "bias");
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
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
