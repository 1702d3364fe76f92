// AVX2 int8 micro-kernel: a 6-row × 16-channel tile (one weight panel) in 12 ymm int32 accumulators,
// leaving 4 of the 16 ymm registers for the two widened weight halves and the broadcast input pair.
// Same arithmetic as the AVX-512 kernel: vpmovsxbw to int16, then vpmaddwd (exact pairs) and vpaddd.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>6 × 16 int8 tile kernel with Vector256 (AVX2).</summary>
internal unsafe struct QGemmKernelAvx2 : IQGemmKernel
{
    public static KernelPath Path => KernelPath.Avx2;
    public static int MR => 6;
    public static QGemmLayout Layout => QGemmLayout.Pairs;
    public static int Panels => 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        if (nValid < 16) { TileEdge(kPairs, a, b, panelStride, offset, c, ldc, nValid); return; }
        Vector256<int> c0a = Vector256<int>.Zero, c0b = Vector256<int>.Zero, c1a = Vector256<int>.Zero, c1b = Vector256<int>.Zero,
            c2a = Vector256<int>.Zero, c2b = Vector256<int>.Zero, c3a = Vector256<int>.Zero, c3b = Vector256<int>.Zero,
            c4a = Vector256<int>.Zero, c4b = Vector256<int>.Zero, c5a = Vector256<int>.Zero, c5b = Vector256<int>.Zero;
        for (int p = 0; p < kPairs; p++)
        {
            var w0 = Avx2.ConvertToVector256Int16(Vector128.Load(b));
            var w1 = Avx2.ConvertToVector256Int16(Vector128.Load(b + 16));
            Vector256<short> x;
            x = Vector256.Create(a[0]).AsInt16(); c0a += Avx2.MultiplyAddAdjacent(w0, x); c0b += Avx2.MultiplyAddAdjacent(w1, x);
            x = Vector256.Create(a[1]).AsInt16(); c1a += Avx2.MultiplyAddAdjacent(w0, x); c1b += Avx2.MultiplyAddAdjacent(w1, x);
            x = Vector256.Create(a[2]).AsInt16(); c2a += Avx2.MultiplyAddAdjacent(w0, x); c2b += Avx2.MultiplyAddAdjacent(w1, x);
            x = Vector256.Create(a[3]).AsInt16(); c3a += Avx2.MultiplyAddAdjacent(w0, x); c3b += Avx2.MultiplyAddAdjacent(w1, x);
            x = Vector256.Create(a[4]).AsInt16(); c4a += Avx2.MultiplyAddAdjacent(w0, x); c4b += Avx2.MultiplyAddAdjacent(w1, x);
            x = Vector256.Create(a[5]).AsInt16(); c5a += Avx2.MultiplyAddAdjacent(w0, x); c5b += Avx2.MultiplyAddAdjacent(w1, x);
            a += 6; b += 32;
        }
        var o0 = Vector256.Load(offset); var o1 = Vector256.Load(offset + 8);
        (c0a + o0).Store(c + 0 * ldc); (c0b + o1).Store(c + 0 * ldc + 8);
        (c1a + o0).Store(c + 1 * ldc); (c1b + o1).Store(c + 1 * ldc + 8);
        (c2a + o0).Store(c + 2 * ldc); (c2b + o1).Store(c + 2 * ldc + 8);
        (c3a + o0).Store(c + 3 * ldc); (c3b + o1).Store(c + 3 * ldc + 8);
        (c4a + o0).Store(c + 4 * ldc); (c4b + o1).Store(c + 4 * ldc + 8);
        (c5a + o0).Store(c + 5 * ldc); (c5b + o1).Store(c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid)
    {
        Vector256<int> c0 = Vector256<int>.Zero, c1 = Vector256<int>.Zero, d0 = Vector256<int>.Zero, d1 = Vector256<int>.Zero;
        int p = 0;
        for (; p <= kPairs - 2; p += 2)
        {
            var x = Vector256.Create(a[p]).AsInt16();
            c0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b)), x);
            c1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b + 16)), x);
            var y = Vector256.Create(a[p + 1]).AsInt16();
            d0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b + 32)), y);
            d1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b + 48)), y);
            b += 64;
        }
        if (p < kPairs)
        {
            var x = Vector256.Create(a[p]).AsInt16();
            c0 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b)), x);
            c1 += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(b + 16)), x);
        }
        c0 += d0 + Vector256.Load(offset);
        c1 += d1 + Vector256.Load(offset + 8);
        if (nValid >= 16) { c0.Store(c); c1.Store(c + 8); return; }
        int* t = stackalloc int[16];
        c0.Store(t); c1.Store(t + 8);
        new ReadOnlySpan<int>(t, nValid).CopyTo(new Span<int>(c, nValid));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TileEdge(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        int* tile = stackalloc int[6 * 16];
        Tile(kPairs, a, b, panelStride, offset, tile, 16, 16);
        for (int i = 0; i < 6; i++) new ReadOnlySpan<int>(tile + i * 16, nValid).CopyTo(new Span<int>(c + i * ldc, nValid));
    }
}
