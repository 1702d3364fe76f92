// AVX-512BW int8 micro-kernel: a 12-row × 32-channel tile in 24 zmm int32 accumulators. Per input pair it
// loads two panels of weights already widened to int16 (PackedInt8Weights.Wide: a vpmovsxbw per panel here
// cost ~6% of a 256×784×300 product, measured, as it competes with vpaddd for port 5), broadcasts each row's
// pair of widened inputs and multiplies with vpmaddwd, which adds the two int16 products into one int32 lane
// exactly (|x·w| ≤ 255·128, so a pair is ≤ 65 280). No 8-bit vpmaddubsw: it saturates at int16 when
// 255·127·2 > 32 767, i.e. for full-range weights. Where AVX-VNNI exists, QGemmKernelQuads (vpdpbusd) replaces
// this kernel; .NET 10 has no Avx512Vnni class (AvxVnniInt8.V512 is the AVX10.2 signed form), so a CPU with
// AVX-512 VNNI but no AVX-VNNI (Ice Lake, Zen 4) runs this one, and vpmaddwd + vpaddd cap it near 32 MACs a
// cycle, where ONNX Runtime's assembly kernels use zmm vpdpbusd at 64.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>12 × 32 int8 tile kernel with Vector512 (AVX-512BW).</summary>
internal unsafe struct QGemmKernelAvx512 : IQGemmKernel
{
    public static KernelPath Path => KernelPath.Avx512;
    public static int MR => 12;
    public static int Panels => 2;
    public static QGemmLayout Layout => QGemmLayout.WidePairs;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        if (nValid < 32) { TileEdge(kPairs, a, b, panelStride, offset, c, ldc, nValid); return; }
        short* w0p = (short*)b, w1p = (short*)(b + panelStride);
        Vector512<int> c0a = Vector512<int>.Zero, c0b = Vector512<int>.Zero, c1a = Vector512<int>.Zero, c1b = Vector512<int>.Zero,
            c2a = Vector512<int>.Zero, c2b = Vector512<int>.Zero, c3a = Vector512<int>.Zero, c3b = Vector512<int>.Zero,
            c4a = Vector512<int>.Zero, c4b = Vector512<int>.Zero, c5a = Vector512<int>.Zero, c5b = Vector512<int>.Zero,
            c6a = Vector512<int>.Zero, c6b = Vector512<int>.Zero, c7a = Vector512<int>.Zero, c7b = Vector512<int>.Zero,
            c8a = Vector512<int>.Zero, c8b = Vector512<int>.Zero, c9a = Vector512<int>.Zero, c9b = Vector512<int>.Zero,
            c10a = Vector512<int>.Zero, c10b = Vector512<int>.Zero, c11a = Vector512<int>.Zero, c11b = Vector512<int>.Zero;
        for (int p = 0; p < kPairs; p++)
        {
            var w0 = Vector512.Load(w0p);
            var w1 = Vector512.Load(w1p);
            Vector512<short> x;
            x = Vector512.Create(a[0]).AsInt16(); c0a += Avx512BW.MultiplyAddAdjacent(w0, x); c0b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[1]).AsInt16(); c1a += Avx512BW.MultiplyAddAdjacent(w0, x); c1b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[2]).AsInt16(); c2a += Avx512BW.MultiplyAddAdjacent(w0, x); c2b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[3]).AsInt16(); c3a += Avx512BW.MultiplyAddAdjacent(w0, x); c3b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[4]).AsInt16(); c4a += Avx512BW.MultiplyAddAdjacent(w0, x); c4b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[5]).AsInt16(); c5a += Avx512BW.MultiplyAddAdjacent(w0, x); c5b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[6]).AsInt16(); c6a += Avx512BW.MultiplyAddAdjacent(w0, x); c6b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[7]).AsInt16(); c7a += Avx512BW.MultiplyAddAdjacent(w0, x); c7b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[8]).AsInt16(); c8a += Avx512BW.MultiplyAddAdjacent(w0, x); c8b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[9]).AsInt16(); c9a += Avx512BW.MultiplyAddAdjacent(w0, x); c9b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[10]).AsInt16(); c10a += Avx512BW.MultiplyAddAdjacent(w0, x); c10b += Avx512BW.MultiplyAddAdjacent(w1, x);
            x = Vector512.Create(a[11]).AsInt16(); c11a += Avx512BW.MultiplyAddAdjacent(w0, x); c11b += Avx512BW.MultiplyAddAdjacent(w1, x);
            a += 12; w0p += 32; w1p += 32;
        }
        var o0 = Vector512.Load(offset); var o1 = Vector512.Load(offset + 16);
        Store(c + 0 * ldc, c0a, c0b, o0, o1);
        Store(c + 1 * ldc, c1a, c1b, o0, o1);
        Store(c + 2 * ldc, c2a, c2b, o0, o1);
        Store(c + 3 * ldc, c3a, c3b, o0, o1);
        Store(c + 4 * ldc, c4a, c4b, o0, o1);
        Store(c + 5 * ldc, c5a, c5b, o0, o1);
        Store(c + 6 * ldc, c6a, c6b, o0, o1);
        Store(c + 7 * ldc, c7a, c7b, o0, o1);
        Store(c + 8 * ldc, c8a, c8b, o0, o1);
        Store(c + 9 * ldc, c9a, c9b, o0, o1);
        Store(c + 10 * ldc, c10a, c10b, o0, o1);
        Store(c + 11 * ldc, c11a, c11b, o0, o1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid)
    {
        // One row: two panels share each broadcast; two accumulators per panel hide the add latency.
        if (nValid <= 16) { RowOnePanel(kPairs, a, (short*)b, offset, c, nValid); return; }
        short* b0 = (short*)b, b1 = (short*)(b + panelStride);
        Vector512<int> c0 = Vector512<int>.Zero, c1 = Vector512<int>.Zero, d0 = Vector512<int>.Zero, d1 = Vector512<int>.Zero;
        int p = 0;
        for (; p <= kPairs - 2; p += 2)
        {
            var x = Vector512.Create(a[p]).AsInt16();
            c0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b0), x);
            c1 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b1), x);
            var y = Vector512.Create(a[p + 1]).AsInt16();
            d0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b0 + 32), y);
            d1 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b1 + 32), y);
            b0 += 64; b1 += 64;
        }
        if (p < kPairs)
        {
            var x = Vector512.Create(a[p]).AsInt16();
            c0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b0), x);
            c1 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b1), x);
        }
        c0 += d0 + Vector512.Load(offset);
        c1 += d1 + Vector512.Load(offset + 16);
        if (nValid >= 32) { c0.Store(c); c1.Store(c + 16); return; }
        int* t = stackalloc int[32];
        c0.Store(t); c1.Store(t + 16);
        new ReadOnlySpan<int>(t, nValid).CopyTo(new Span<int>(c, nValid));
    }

    /// <summary>One row × one panel (at most 16 valid columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowOnePanel(int kPairs, int* a, short* b, int* offset, int* c, int nValid)
    {
        Vector512<int> c0 = Vector512<int>.Zero, d0 = Vector512<int>.Zero;
        int p = 0;
        for (; p <= kPairs - 2; p += 2, b += 64)
        {
            c0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b), Vector512.Create(a[p]).AsInt16());
            d0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b + 32), Vector512.Create(a[p + 1]).AsInt16());
        }
        if (p < kPairs) c0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(b), Vector512.Create(a[p]).AsInt16());
        c0 += d0 + Vector512.Load(offset);
        int* t = stackalloc int[16];
        c0.Store(t);
        new ReadOnlySpan<int>(t, nValid).CopyTo(new Span<int>(c, nValid));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(int* c, Vector512<int> x0, Vector512<int> x1, Vector512<int> o0, Vector512<int> o1)
    {
        (x0 + o0).Store(c); (x1 + o1).Store(c + 16);
    }

    // A ragged tile runs a full kernel into a stack tile and copies the valid columns: the two-panel kernel
    // when 17..31 columns are valid, the one-panel kernel below when at most 16 are (n = 10 layers, say).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TileEdge(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        int* tile = stackalloc int[12 * 32];
        int width = nValid > 16 ? 32 : 16;
        if (nValid > 16) Tile(kPairs, a, b, panelStride, offset, tile, 32, 32);
        else TileOnePanel(kPairs, a, (short*)b, offset, tile);
        for (int i = 0; i < 12; i++) new ReadOnlySpan<int>(tile + i * width, nValid).CopyTo(new Span<int>(c + i * ldc, nValid));
    }

    /// <summary>12 rows × one 16-channel panel into a 12×16 tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileOnePanel(int kPairs, int* a, short* b, int* offset, int* tile)
    {
        Vector512<int> c0 = Vector512<int>.Zero, c1 = Vector512<int>.Zero, c2 = Vector512<int>.Zero, c3 = Vector512<int>.Zero,
            c4 = Vector512<int>.Zero, c5 = Vector512<int>.Zero, c6 = Vector512<int>.Zero, c7 = Vector512<int>.Zero,
            c8 = Vector512<int>.Zero, c9 = Vector512<int>.Zero, c10 = Vector512<int>.Zero, c11 = Vector512<int>.Zero;
        for (int p = 0; p < kPairs; p++)
        {
            var w0 = Vector512.Load(b);
            c0 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[0]).AsInt16());
            c1 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[1]).AsInt16());
            c2 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[2]).AsInt16());
            c3 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[3]).AsInt16());
            c4 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[4]).AsInt16());
            c5 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[5]).AsInt16());
            c6 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[6]).AsInt16());
            c7 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[7]).AsInt16());
            c8 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[8]).AsInt16());
            c9 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[9]).AsInt16());
            c10 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[10]).AsInt16());
            c11 += Avx512BW.MultiplyAddAdjacent(w0, Vector512.Create(a[11]).AsInt16());
            a += 12; b += 32;
        }
        var o0 = Vector512.Load(offset);
        (c0 + o0).Store(tile + 0 * 16);
        (c1 + o0).Store(tile + 1 * 16);
        (c2 + o0).Store(tile + 2 * 16);
        (c3 + o0).Store(tile + 3 * 16);
        (c4 + o0).Store(tile + 4 * 16);
        (c5 + o0).Store(tile + 5 * 16);
        (c6 + o0).Store(tile + 6 * 16);
        (c7 + o0).Store(tile + 7 * 16);
        (c8 + o0).Store(tile + 8 * 16);
        (c9 + o0).Store(tile + 9 * 16);
        (c10 + o0).Store(tile + 10 * 16);
        (c11 + o0).Store(tile + 11 * 16);
    }
}
