// AVX-512 micro-kernel: a 12×32 tile of C in 24 zmm accumulators. Each step loads one 32-wide row of
// packed B (two zmm) and broadcasts 12 values of A: 24 FMAs per 14 loads, leaving the 32 zmm
// registers 3 spare. The layout follows MLAS's SgemmKernelAvx512F, transposed to row-major C. A is read through
// four row pointers three rows apart and the row stride, so a packed panel (row stride 1) and rows of A in place (row
// stride lda, as MLAS reads A) take the same code. A tile the driver finishes (GemmEpilogue) can be finished in registers
// before its one store (GemmTileStore.cs).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>12×32 fp32 tile kernel with Vector512 and FMA.</summary>
internal unsafe struct GemmKernelAvx512 : IGemmKernel
{
    public static KernelPath Path => KernelPath.Avx512;
    public static int MR => 12;
    public static int NR => 32;

    public static void Run(int kc, float* a, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta) =>
        Run(kc, a, 1, 12, b, c, ldc, mr, nr, alpha, beta);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        if (mr < 12 || nr < 32) { RunEdge(kc, a, row, step, b, c, ldc, mr, nr, alpha, beta); return; }
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default,
            c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default,
            c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        // Fetch the C tile while the K loop runs: it is merged only at the end, and its rows are ldc apart.
        for (int i = 0; i < 12; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 16); }
        float* a0 = a, a3 = a + 3 * row, a6 = a + 6 * row, a9 = a + 9 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(*a0);
            c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a0[row]);
            c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a0[row2]);
            c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(*a3);
            c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a3[row]);
            c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a3[row2]);
            c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(*a6);
            c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a6[row]);
            c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            x = Vector512.Create(a6[row2]);
            c8a = Avx512F.FusedMultiplyAdd(x, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(x, b1, c8b);
            x = Vector512.Create(*a9);
            c9a = Avx512F.FusedMultiplyAdd(x, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(x, b1, c9b);
            x = Vector512.Create(a9[row]);
            c10a = Avx512F.FusedMultiplyAdd(x, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(x, b1, c10b);
            x = Vector512.Create(a9[row2]);
            c11a = Avx512F.FusedMultiplyAdd(x, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(x, b1, c11b);
            a0 += step; a3 += step; a6 += step; a9 += step; b += 32;
        }
        {
            var va = Vector512.Create(alpha); var vb = Vector512.Create(beta);
            Store(c + 0 * ldc, c0a, c0b, va, vb, beta);
            Store(c + 1 * ldc, c1a, c1b, va, vb, beta);
            Store(c + 2 * ldc, c2a, c2b, va, vb, beta);
            Store(c + 3 * ldc, c3a, c3b, va, vb, beta);
            Store(c + 4 * ldc, c4a, c4b, va, vb, beta);
            Store(c + 5 * ldc, c5a, c5b, va, vb, beta);
            Store(c + 6 * ldc, c6a, c6b, va, vb, beta);
            Store(c + 7 * ldc, c7a, c7b, va, vb, beta);
            Store(c + 8 * ldc, c8a, c8b, va, vb, beta);
            Store(c + 9 * ldc, c9a, c9b, va, vb, beta);
            Store(c + 10 * ldc, c10a, c10b, va, vb, beta);
            Store(c + 11 * ldc, c11a, c11b, va, vb, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> va, Vector512<float> vb, float beta)
    {
        // Same rounding as MicroTile.StoreFused: t = alpha·acc, then c = fma(c, beta, t).
        x0 *= va; x1 *= va;
        if (beta != 0f)
        {
            x0 = Avx512F.FusedMultiplyAdd(Vector512.Load(c), vb, x0);
            x1 = Avx512F.FusedMultiplyAdd(Vector512.Load(c + 16), vb, x1);
        }
        x0.Store(c); x1.Store(c + 16);
    }

    /// <summary>
    /// A tile as <see cref="Run(int, float*, nint, nint, float*, float*, int, int, int, float, float)"/>, then
    /// <paramref name="epilogue"/> applied to it in registers before the one store, with the bits of
    /// <see cref="GemmEpilogue.Apply"/> on the stored tile (whose first element is (<paramref name="row0"/>,
    /// <paramref name="column0"/>) of C; <paramref name="first"/> and <paramref name="last"/>: the K block's place).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunFinishing(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta,
        in GemmEpilogue epilogue, int row0, int column0, bool first, bool last)
    {
        var store = new FinishingStore(alpha, beta, epilogue, ldc, row0, column0, first, last);
        if (mr == 12 && nr == 32) Tile(kc, a, row, step, b, c, ldc, in store);
        else FinishEdge(kc, a, row, step, b, c, ldc, mr, nr, in store);
    }

    // A full 12 × 32 tile finished in registers: Run's K loop, then each row of accumulators through the store. Run keeps its own
    // copy of the loop: through one shared method, a call per tile (the JIT does not inline a loop of 24 accumulators) made
    // all-MiniLM-L6-v2's attention products 12 % slower (measured). Compiled by tiers: fully optimized at once ran its bias
    // products 1.5 % slower than with the profile-guided tier.
    private static void Tile(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, in FinishingStore store)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default,
            c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default,
            c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        // Fetch the C tile (and what the store reads) while the K loop runs: it is merged only at the end, and its rows are ldc apart.
        for (int i = 0; i < 12; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 16); }
        store.Prefetch(ldc);
        float* a0 = a, a3 = a + 3 * row, a6 = a + 6 * row, a9 = a + 9 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(*a0);
            c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a0[row]);
            c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a0[row2]);
            c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(*a3);
            c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a3[row]);
            c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a3[row2]);
            c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(*a6);
            c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a6[row]);
            c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            x = Vector512.Create(a6[row2]);
            c8a = Avx512F.FusedMultiplyAdd(x, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(x, b1, c8b);
            x = Vector512.Create(*a9);
            c9a = Avx512F.FusedMultiplyAdd(x, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(x, b1, c9b);
            x = Vector512.Create(a9[row]);
            c10a = Avx512F.FusedMultiplyAdd(x, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(x, b1, c10b);
            x = Vector512.Create(a9[row2]);
            c11a = Avx512F.FusedMultiplyAdd(x, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(x, b1, c11b);
            a0 += step; a3 += step; a6 += step; a9 += step; b += 32;
        }
        store.Row(c, ldc, 0, c0a, c0b);
        store.Row(c, ldc, 1, c1a, c1b);
        store.Row(c, ldc, 2, c2a, c2b);
        store.Row(c, ldc, 3, c3a, c3b);
        store.Row(c, ldc, 4, c4a, c4b);
        store.Row(c, ldc, 5, c5a, c5b);
        store.Row(c, ldc, 6, c6a, c6b);
        store.Row(c, ldc, 7, c7a, c7b);
        store.Row(c, ldc, 8, c8a, c8b);
        store.Row(c, ldc, 9, c9a, c9b);
        store.Row(c, ldc, 10, c10a, c10b);
        store.Row(c, ldc, 11, c11a, c11b);
    }

    // Ragged tiles run a kernel no larger than needed into a stack tile and copy the valid corner out; packing
    // padded the missing rows and columns with zeros (A read in place has all 12 rows: the driver packs a ragged row
    // panel), and each kernel runs the same FMA chain per element as Run, so the bits of an element do not depend on
    // which kernel computed it. At most 16 valid columns (the last panel of n = 300, 100 or 10) need only the left half
    // of the tile; at most 4 or 8 valid rows (the last panel of m = 256, 128 or 64) need only a third or two thirds of it.
    // Fully optimized at once: a tier-1 recompile guided by another shape's profile ran 256×10×100 1.45× slower.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void RunEdge(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        // EdgeSums' choice written out: through the helper, all-MiniLM-L6-v2's attention (ragged tiles of 8 rows) ran 10 % slower.
        float* tile = stackalloc float[12 * 32];
        if (mr <= 4) RunFourRows(kc, a, row, step, b, tile);
        else if (mr <= 8) RunEightRows(kc, a, row, step, b, tile);
        else if (nr <= 16) RunLeftHalf(kc, a, row, step, b, tile);
        else Run(kc, a, row, step, b, tile, 32, 12, 32, 1f, 0f);
        MicroTile.StoreFused(tile, 32, c, ldc, mr, nr, alpha, beta);
    }

    // A ragged tile's sums (alpha = 1) into a 12 × 32 stack tile, by the smallest kernel that covers mr × nr.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EdgeSums(int kc, float* a, nint row, nint step, float* b, float* tile, int mr, int nr)
    {
        if (mr <= 4) RunFourRows(kc, a, row, step, b, tile);
        else if (mr <= 8) RunEightRows(kc, a, row, step, b, tile);
        else if (nr <= 16) RunLeftHalf(kc, a, row, step, b, tile);
        else Run(kc, a, row, step, b, tile, 32, 12, 32, 1f, 0f);
    }

    // A ragged tile finished as it is stored: its sums from EdgeSums, then each row's valid columns through the store, masked.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void FinishEdge(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, in FinishingStore store)
    {
        float* tile = stackalloc float[12 * 32];
        EdgeSums(kc, a, row, step, b, tile, mr, nr);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j += 16)
                store.Masked(c, ldc, i, j, Vector512.Load(tile + i * 32 + j), Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(nr - j)).AsSingle());
    }

    /// <summary>Rows 0..3 of the 12×32 tile (alpha = 1, beta = 0) into a tile with row stride 32.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void RunFourRows(int kc, float* a, nint row, nint step, float* b, float* tile)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        float* a0 = a, a3 = a + 3 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(*a0);
            c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a0[row]);
            c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a0[row2]);
            c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(*a3);
            c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            a0 += step; a3 += step; b += 32;
        }
        c0a.Store(tile); c0b.Store(tile + 16); c1a.Store(tile + 32); c1b.Store(tile + 48);
        c2a.Store(tile + 64); c2b.Store(tile + 80); c3a.Store(tile + 96); c3b.Store(tile + 112);
    }

    /// <summary>Rows 0..7 of the 12×32 tile (alpha = 1, beta = 0) into a tile with row stride 32.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void RunEightRows(int kc, float* a, nint row, nint step, float* b, float* tile)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default,
            c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        float* a0 = a, a3 = a + 3 * row, a6 = a + 6 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(*a0);
            c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a0[row]);
            c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a0[row2]);
            c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(*a3);
            c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a3[row]);
            c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a3[row2]);
            c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(*a6);
            c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a6[row]);
            c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            a0 += step; a3 += step; a6 += step; b += 32;
        }
        c0a.Store(tile); c0b.Store(tile + 16); c1a.Store(tile + 32); c1b.Store(tile + 48);
        c2a.Store(tile + 64); c2b.Store(tile + 80); c3a.Store(tile + 96); c3b.Store(tile + 112);
        c4a.Store(tile + 128); c4b.Store(tile + 144); c5a.Store(tile + 160); c5b.Store(tile + 176);
        c6a.Store(tile + 192); c6b.Store(tile + 208); c7a.Store(tile + 224); c7b.Store(tile + 240);
    }

    /// <summary>Columns 0..15 of the 12×32 tile (alpha = 1, beta = 0) into a tile with row stride 32.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void RunLeftHalf(int kc, float* a, nint row, nint step, float* b, float* tile)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        float* a0 = a, a3 = a + 3 * row, a6 = a + 6 * row, a9 = a + 9 * row;
        nint row2 = 2 * row;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(*a0), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[row]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[row2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(*a3), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[row]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[row2]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(*a6), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a6[row]), b0, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a6[row2]), b0, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(*a9), b0, c9);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(a9[row]), b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(a9[row2]), b0, c11);
            a0 += step; a3 += step; a6 += step; a9 += step; b += 32;
        }
        c0.Store(tile); c1.Store(tile + 32); c2.Store(tile + 64); c3.Store(tile + 96);
        c4.Store(tile + 128); c5.Store(tile + 160); c6.Store(tile + 192); c7.Store(tile + 224);
        c8.Store(tile + 256); c9.Store(tile + 288); c10.Store(tile + 320); c11.Store(tile + 352);
    }
}
