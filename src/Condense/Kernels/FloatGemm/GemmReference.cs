// The specification of Gemm.Multiply: the naive triple loop, written for clarity, not speed. Tests and
// the benchmark compare every fast path against it.
namespace Condense.Kernels.FloatGemm;

/// <summary>
/// Naive fp32 GEMM with exactly the contract of
/// <see cref="Gemm.Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>.
/// </summary>
internal static class GemmReference
{
    /// <summary>C[M,N] = alpha·op(A)·op(B) + beta·C; beta == 0 overwrites C without reading it.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        // op(A) is (M, K): A is (M, K) with row stride lda, or (K, M) when transA.
        // op(B) is (K, N): B is (K, N) with row stride ldb, or (N, K) when transB.
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                // As in BLAS, alpha == 0 means A and B are not read (so their NaNs do not leak into C).
                if (alpha != 0f)
                {
                    for (int p = 0; p < k; p++)
                    {
                        float av = transA ? a[p * lda + i] : a[i * lda + p];
                        float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                        sum += av * bv;
                    }
                }
                ref float cij = ref c[i * ldc + j];
                cij = beta == 0f ? alpha * sum : alpha * sum + beta * cij;
            }
        }
    }
}
