// AVX2 micro-kernel: a 6×16 tile of C in 12 ymm accumulators, the classic Haswell shape (BLIS, MLAS).
// Each step loads one 16-wide row of packed B (two ymm) and broadcasts 6 values of A, which fits
// the 16 ymm registers with one to spare. A is read through two row pointers three rows apart and the row stride: a
// packed panel (row stride 1) or rows of A in place (row stride lda).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>6×16 fp32 tile kernel with Vector256 and FMA.</summary>
internal unsafe struct GemmKernelAvx2 : IGemmKernel
{
    public static KernelPath Path => KernelPath.Avx2;
    public static int MR => 6;
    public static int NR => 16;

    public static void Run(int kc, float* a, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta) =>
        Run(kc, a, 1, 6, b, c, ldc, mr, nr, alpha, beta);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        if (mr < 6 || nr < 16) RunEdge(kc, a, row, step, b, c, ldc, mr, nr, alpha, beta);
        else Rows<Conv.Rows6>(kc, a, row, step, b, c, ldc, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb, float beta)
    {
        // Same rounding as MicroTile.StoreFused: t = alpha·acc, then c = fma(c, beta, t).
        x0 *= va; x1 *= va;
        if (beta != 0f)
        {
            x0 = Fma.MultiplyAdd(Vector256.Load(c), vb, x0);
            x1 = Fma.MultiplyAdd(Vector256.Load(c + 8), vb, x1);
        }
        x0.Store(c); x1.Store(c + 8);
    }

    // Ragged tiles. Full width, fewer rows (the last panel of M not a multiple of 6: 16 Winograd channels are 6 + 6 + 4):
    // only those rows, stored as full ones; the sums and their rounding are the full tile's. Narrower tiles: full
    // kernel into a stack tile (zero padding makes the valid sums identical), then copy.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void RunEdge(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        if (nr == 16)
        {
            switch (mr)
            {
                case 1: Rows<Conv.Rows1>(kc, a, row, step, b, c, ldc, alpha, beta); return;
                case 2: Rows<Conv.Rows2>(kc, a, row, step, b, c, ldc, alpha, beta); return;
                case 3: Rows<Conv.Rows3>(kc, a, row, step, b, c, ldc, alpha, beta); return;
                case 4: Rows<Conv.Rows4>(kc, a, row, step, b, c, ldc, alpha, beta); return;
                case 5: Rows<Conv.Rows5>(kc, a, row, step, b, c, ldc, alpha, beta); return;
            }
        }
        float* tile = stackalloc float[6 * 16];
        Run(kc, a, row, step, b, tile, 16, 6, 16, 1f, 0f);
        MicroTile.StoreFused(tile, 16, c, ldc, mr, nr, alpha, beta);
    }

    // The first TRows.Count rows of the 6×16 tile, A read through two row pointers three rows apart (the JIT compiles one
    // body per row count, the row tests folded away).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TRows>(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, float alpha, float beta)
        where TRows : struct, Conv.IRows
    {
        int r = TRows.Count;
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default,
            c4a = default, c4b = default, c5a = default, c5b = default;
        float* a0 = a, a3 = a + 3 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(*a0);
            c0a = Fma.MultiplyAdd(x, b0, c0a); c0b = Fma.MultiplyAdd(x, b1, c0b);
            if (r > 1) { x = Vector256.Create(a0[row]); c1a = Fma.MultiplyAdd(x, b0, c1a); c1b = Fma.MultiplyAdd(x, b1, c1b); }
            if (r > 2) { x = Vector256.Create(a0[row2]); c2a = Fma.MultiplyAdd(x, b0, c2a); c2b = Fma.MultiplyAdd(x, b1, c2b); }
            if (r > 3) { x = Vector256.Create(*a3); c3a = Fma.MultiplyAdd(x, b0, c3a); c3b = Fma.MultiplyAdd(x, b1, c3b); }
            if (r > 4) { x = Vector256.Create(a3[row]); c4a = Fma.MultiplyAdd(x, b0, c4a); c4b = Fma.MultiplyAdd(x, b1, c4b); }
            if (r > 5) { x = Vector256.Create(a3[row2]); c5a = Fma.MultiplyAdd(x, b0, c5a); c5b = Fma.MultiplyAdd(x, b1, c5b); }
            a0 += step; a3 += step; b += 16;
        }
        var va = Vector256.Create(alpha); var vb = Vector256.Create(beta);
        Store(c, c0a, c0b, va, vb, beta);
        if (r > 1) Store(c + ldc, c1a, c1b, va, vb, beta);
        if (r > 2) Store(c + 2 * ldc, c2a, c2b, va, vb, beta);
        if (r > 3) Store(c + 3 * ldc, c3a, c3b, va, vb, beta);
        if (r > 4) Store(c + 4 * ldc, c4a, c4b, va, vb, beta);
        if (r > 5) Store(c + 5 * ldc, c5a, c5b, va, vb, beta);
    }
}
