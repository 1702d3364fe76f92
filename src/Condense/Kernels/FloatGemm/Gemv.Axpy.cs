// The non-transposed half of the GEMV path: B is (K, N) and a strip of outputs accumulates x[p]·B[p, strip]
// for p = 0..K-1 in registers. Every output, whether in a 4-vector strip, a 1-vector strip or the scalar
// tail, is the same sequential FMA chain over p, so the strip layout never changes its bits.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

internal static unsafe partial class Gemv
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyAvx512(int j0, int j1, int k, float alpha, float* x, float* b, int ldb, float beta, float* c)
    {
        int j = j0;
        var va = Vector512.Create(alpha); var vb = Vector512.Create(beta);
        for (; j <= j1 - 64; j += 64)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb)
            {
                var xp = Vector512.Create(x[p]);
                s0 = Avx512F.FusedMultiplyAdd(xp, Vector512.Load(col), s0);
                s1 = Avx512F.FusedMultiplyAdd(xp, Vector512.Load(col + 16), s1);
                s2 = Avx512F.FusedMultiplyAdd(xp, Vector512.Load(col + 32), s2);
                s3 = Avx512F.FusedMultiplyAdd(xp, Vector512.Load(col + 48), s3);
            }
            Store512(c + j, s0, va, vb, beta); Store512(c + j + 16, s1, va, vb, beta);
            Store512(c + j + 32, s2, va, vb, beta); Store512(c + j + 48, s3, va, vb, beta);
        }
        for (; j <= j1 - 16; j += 16)
        {
            Vector512<float> s0 = default;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb)
                s0 = Avx512F.FusedMultiplyAdd(Vector512.Create(x[p]), Vector512.Load(col), s0);
            Store512(c + j, s0, va, vb, beta);
        }
        AxpyTailFused(KernelPath.Avx512, j, j1, k, alpha, x, b, ldb, beta, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyAvx2(int j0, int j1, int k, float alpha, float* x, float* b, int ldb, float beta, float* c)
    {
        int j = j0;
        var va = Vector256.Create(alpha); var vb = Vector256.Create(beta);
        for (; j <= j1 - 32; j += 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb)
            {
                var xp = Vector256.Create(x[p]);
                s0 = Fma.MultiplyAdd(xp, Vector256.Load(col), s0);
                s1 = Fma.MultiplyAdd(xp, Vector256.Load(col + 8), s1);
                s2 = Fma.MultiplyAdd(xp, Vector256.Load(col + 16), s2);
                s3 = Fma.MultiplyAdd(xp, Vector256.Load(col + 24), s3);
            }
            Store256(c + j, s0, va, vb, beta); Store256(c + j + 8, s1, va, vb, beta);
            Store256(c + j + 16, s2, va, vb, beta); Store256(c + j + 24, s3, va, vb, beta);
        }
        for (; j <= j1 - 8; j += 8)
        {
            Vector256<float> s0 = default;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb)
                s0 = Fma.MultiplyAdd(Vector256.Create(x[p]), Vector256.Load(col), s0);
            Store256(c + j, s0, va, vb, beta);
        }
        AxpyTailFused(KernelPath.Avx2, j, j1, k, alpha, x, b, ldb, beta, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyTailFused(KernelPath path, int j0, int j1, int k, float alpha, float* x, float* b, int ldb, float beta, float* c)
    {
        for (int j = j0; j < j1; j++)
        {
            float s = 0f;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb) s = MathF.FusedMultiplyAdd(x[p], *col, s);
            c[j] = Merge(path, s, alpha, beta, c[j]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyScalar(int j0, int j1, int k, float alpha, float* x, float* b, int ldb, float beta, float* c)
    {
        for (int j = j0; j < j1; j++)
        {
            float s = 0f;
            float* col = b + j;
            for (int p = 0; p < k; p++, col += ldb) s += x[p] * *col;
            c[j] = Merge(KernelPath.Scalar, s, alpha, beta, c[j]);
        }
    }

    private static void Store512(float* c, Vector512<float> s, Vector512<float> va, Vector512<float> vb, float beta)
    {
        s *= va;
        if (beta != 0f) s = Avx512F.FusedMultiplyAdd(Vector512.Load(c), vb, s);
        s.Store(c);
    }

    private static void Store256(float* c, Vector256<float> s, Vector256<float> va, Vector256<float> vb, float beta)
    {
        s *= va;
        if (beta != 0f) s = Fma.MultiplyAdd(Vector256.Load(c), vb, s);
        s.Store(c);
    }
}
