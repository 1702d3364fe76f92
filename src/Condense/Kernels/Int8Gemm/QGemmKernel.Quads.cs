// The vpdpbusd int8 micro-kernel: a 6-row × 16-channel tile in 12 ymm int32 accumulators, leaving 4 of the 16
// ymm registers (AVX-VNNI is VEX-encoded) for the two weight halves and the broadcast input quad. Per 4 inputs
// it loads one quad panel (64 bytes: 16 channels × 4 int8 weights), broadcasts each row's 4 raw uint8 inputs
// and runs two dot-of-four steps per row: 12 instructions for 384 multiply-adds, twice the work per
// instruction of the vpmaddwd kernels and 32 MACs per ymm vpdpbusd (an fp32 zmm FMA does 16). uint8 × int8 is
// exactly vpdpbusd's operand types, so X needs no widening and the zero point stays in the per-channel offset
// (QGemmDriver). Generic over the step (Dot4.cs) so that the same code runs with the AVX2 emulation on CPUs
// without AVX-VNNI, where the tests check it, and with vpmaddubsw + vpmaddwd for weights whose int16 pair sums cannot
// saturate (Int8Dot.MaddubsQuads); the shape, edges and packing are those of QGemmKernelAvx2.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>6 × 16 int8 tile kernel over uint8 quads with the dot-of-four step <typeparamref name="TDot"/>.</summary>
internal unsafe struct QGemmKernelQuads<TDot> : IQGemmKernel where TDot : struct, IDot4
{
    public static KernelPath Path => KernelPath.Avx2;
    public static int MR => 6;
    public static QGemmLayout Layout => QGemmLayout.Quads;
    public static int Panels => 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        if (nValid < 16) { TileEdge(kQuads, a, b, panelStride, offset, c, ldc, nValid); return; }
        Vector256<int> c0a = Vector256<int>.Zero, c0b = Vector256<int>.Zero, c1a = Vector256<int>.Zero, c1b = Vector256<int>.Zero,
            c2a = Vector256<int>.Zero, c2b = Vector256<int>.Zero, c3a = Vector256<int>.Zero, c3b = Vector256<int>.Zero,
            c4a = Vector256<int>.Zero, c4b = Vector256<int>.Zero, c5a = Vector256<int>.Zero, c5b = Vector256<int>.Zero;
        for (int p = 0; p < kQuads; p++)
        {
            var w0 = Vector256.Load(b);
            var w1 = Vector256.Load(b + 32);
            Vector256<byte> x;
            x = Vector256.Create(a[0]).AsByte(); c0a = TDot.Accumulate(c0a, x, w0); c0b = TDot.Accumulate(c0b, x, w1);
            x = Vector256.Create(a[1]).AsByte(); c1a = TDot.Accumulate(c1a, x, w0); c1b = TDot.Accumulate(c1b, x, w1);
            x = Vector256.Create(a[2]).AsByte(); c2a = TDot.Accumulate(c2a, x, w0); c2b = TDot.Accumulate(c2b, x, w1);
            x = Vector256.Create(a[3]).AsByte(); c3a = TDot.Accumulate(c3a, x, w0); c3b = TDot.Accumulate(c3b, x, w1);
            x = Vector256.Create(a[4]).AsByte(); c4a = TDot.Accumulate(c4a, x, w0); c4b = TDot.Accumulate(c4b, x, w1);
            x = Vector256.Create(a[5]).AsByte(); c5a = TDot.Accumulate(c5a, x, w0); c5b = TDot.Accumulate(c5b, x, w1);
            a += 6; b += 64;
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
    public static void Row(int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid)
    {
        // Two accumulators per half hide the latency of the dependent dot steps.
        Vector256<int> c0 = Vector256<int>.Zero, c1 = Vector256<int>.Zero, d0 = Vector256<int>.Zero, d1 = Vector256<int>.Zero;
        int p = 0;
        for (; p <= kQuads - 2; p += 2)
        {
            var x = Vector256.Create(a[p]).AsByte();
            c0 = TDot.Accumulate(c0, x, Vector256.Load(b));
            c1 = TDot.Accumulate(c1, x, Vector256.Load(b + 32));
            var y = Vector256.Create(a[p + 1]).AsByte();
            d0 = TDot.Accumulate(d0, y, Vector256.Load(b + 64));
            d1 = TDot.Accumulate(d1, y, Vector256.Load(b + 96));
            b += 128;
        }
        if (p < kQuads)
        {
            var x = Vector256.Create(a[p]).AsByte();
            c0 = TDot.Accumulate(c0, x, Vector256.Load(b));
            c1 = TDot.Accumulate(c1, x, Vector256.Load(b + 32));
        }
        c0 += d0 + Vector256.Load(offset);
        c1 += d1 + Vector256.Load(offset + 8);
        if (nValid >= 16) { c0.Store(c); c1.Store(c + 8); return; }
        int* t = stackalloc int[16];
        c0.Store(t); c1.Store(t + 8);
        new ReadOnlySpan<int>(t, nValid).CopyTo(new Span<int>(c, nValid));
    }

    /// <summary>A tile with fewer than 16 valid channels: the full kernel into a stack tile, then the valid columns.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TileEdge(int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        int* tile = stackalloc int[6 * 16];
        Tile(kQuads, a, b, panelStride, offset, tile, 16, 16);
        for (int i = 0; i < 6; i++) new ReadOnlySpan<int>(tile + i * 16, nValid).CopyTo(new Span<int>(c + i * ldc, nValid));
    }
}
