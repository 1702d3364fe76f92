// The transposing half of B packing with AVX: with transB (the Linear weight layout [out, in]) each
// packed column is a contiguous row of B, so the pack is a transpose. Doing it as 8×8 register
// transposes (the _MM_TRANSPOSE8_PS sequence) instead of element by element keeps the pack from
// costing as much as the multiply when M is a small batch. PackA uses the same transposes for A (M, K).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.FloatGemm;

internal static unsafe partial class GemmPack
{
    /// <summary>
    /// dst[p·nr + j] = src[j·ldb + p] for j &lt; cols, p &lt; kc (columns cols..nr-1 are left as they are).
    /// Needs AVX; only the vector paths call it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposePanelAvx(float* src, int ldb, int kc, int cols, int nr, float* dst)
    {
        int j = 0;
        for (; j <= cols - 8; j += 8)
        {
            float* s = src + (long)j * ldb;
            int p = 0;
            for (; p <= kc - 8; p += 8)
            {
                Transpose8x8(s + p, ldb, dst + p * nr + j, nr);
            }
            for (; p < kc; p++)
                for (int jj = 0; jj < 8; jj++) dst[p * nr + j + jj] = s[(long)jj * ldb + p];
        }
        for (; j <= cols - 4; j += 4)
        {
            // Four remaining rows (the last third of a 12-row A panel): 4×4 transposes.
            float* s = src + (long)j * ldb;
            int p = 0;
            for (; p <= kc - 4; p += 4)
                Transpose4x4(s + p, ldb, dst + p * nr + j, nr);
            for (; p < kc; p++)
                for (int jj = 0; jj < 4; jj++) dst[p * nr + j + jj] = s[(long)jj * ldb + p];
        }
        for (; j < cols; j++)
        {
            float* s = src + (long)j * ldb;
            for (int p = 0; p < kc; p++) dst[p * nr + j] = s[p];
        }
    }

    /// <summary>Writes the transpose of the 4×4 block at s (row stride ls) to d (row stride ld): _MM_TRANSPOSE4_PS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(float* s, int ls, float* d, int ld)
    {
        var r0 = Vector128.Load(s); var r1 = Vector128.Load(s + ls);
        var r2 = Vector128.Load(s + 2 * ls); var r3 = Vector128.Load(s + 3 * ls);
        var t0 = Sse.UnpackLow(r0, r1); var t1 = Sse.UnpackLow(r2, r3);
        var t2 = Sse.UnpackHigh(r0, r1); var t3 = Sse.UnpackHigh(r2, r3);
        Sse.MoveLowToHigh(t0, t1).Store(d);
        Sse.MoveHighToLow(t1, t0).Store(d + ld);
        Sse.MoveLowToHigh(t2, t3).Store(d + 2 * ld);
        Sse.MoveHighToLow(t3, t2).Store(d + 3 * ld);
    }

    /// <summary>Writes the transpose of the 8×8 block at s (row stride ls) to d (row stride ld).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* s, int ls, float* d, int ld)
    {
        var r0 = Vector256.Load(s); var r1 = Vector256.Load(s + ls);
        var r2 = Vector256.Load(s + 2 * ls); var r3 = Vector256.Load(s + 3 * ls);
        var r4 = Vector256.Load(s + 4 * ls); var r5 = Vector256.Load(s + 5 * ls);
        var r6 = Vector256.Load(s + 6 * ls); var r7 = Vector256.Load(s + 7 * ls);
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(d);
        Avx.Permute2x128(u1, u5, 0x20).Store(d + ld);
        Avx.Permute2x128(u2, u6, 0x20).Store(d + 2 * ld);
        Avx.Permute2x128(u3, u7, 0x20).Store(d + 3 * ld);
        Avx.Permute2x128(u0, u4, 0x31).Store(d + 4 * ld);
        Avx.Permute2x128(u1, u5, 0x31).Store(d + 5 * ld);
        Avx.Permute2x128(u2, u6, 0x31).Store(d + 6 * ld);
        Avx.Permute2x128(u3, u7, 0x31).Store(d + 7 * ld);
    }
}
