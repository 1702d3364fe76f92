// The AVX-512 tile of QConv2dDirect: up to 8 channel rows × 32 output positions in 16 zmm of int32. Per tap
// pair: two 32-wide int16 loads, vpunpcklwd/vpunpckhwd into (x[q + o0], x[q + o1]) pairs — positions
// {0–3, 8–11, 16–19, 24–27} and {4–7, 12–15, 20–23, 28–31}, per 128-bit lane — and per row two vpmaddwd
// against the broadcast weight pair plus two vpaddd. vpermt2d puts the positions back in order at the store.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Up to 8 channel rows × 32 positions with AVX-512BW vpmaddwd.</summary>
internal unsafe struct QConvKernelAvx512 : IQConvKernel
{
    public static KernelPath Path => KernelPath.Avx512;
    public static int MaxRows => 8;
    public static int NR => 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int rows, int pairs, int* w, short* x, int* offsets, int* bias, int* c, int ldc)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(pairs, w, x, offsets, bias, c, ldc); break;
            case 2: Tile<Rows2>(pairs, w, x, offsets, bias, c, ldc); break;
            case 3: Tile<Rows3>(pairs, w, x, offsets, bias, c, ldc); break;
            case 4: Tile<Rows4>(pairs, w, x, offsets, bias, c, ldc); break;
            case 5: Tile<Rows5>(pairs, w, x, offsets, bias, c, ldc); break;
            case 6: Tile<Rows6>(pairs, w, x, offsets, bias, c, ldc); break;
            case 7: Tile<Rows7>(pairs, w, x, offsets, bias, c, ldc); break;
            case 8: Tile<Rows8>(pairs, w, x, offsets, bias, c, ldc); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(int pairs, int* w, short* x, int* offsets, int* bias, int* c, int ldc) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector512<int> a0l = default, a0h = default, a1l = default, a1h = default, a2l = default, a2h = default, a3l = default, a3h = default,
            a4l = default, a4h = default, a5l = default, a5h = default, a6l = default, a6h = default, a7l = default, a7h = default;
        // Both halves start at the bias: every lane is one output position.
        { a0l = Vector512.Create(bias[0]); a0h = a0l; }
        if (r > 1) { a1l = Vector512.Create(bias[1]); a1h = a1l; }
        if (r > 2) { a2l = Vector512.Create(bias[2]); a2h = a2l; }
        if (r > 3) { a3l = Vector512.Create(bias[3]); a3h = a3l; }
        if (r > 4) { a4l = Vector512.Create(bias[4]); a4h = a4l; }
        if (r > 5) { a5l = Vector512.Create(bias[5]); a5h = a5l; }
        if (r > 6) { a6l = Vector512.Create(bias[6]); a6h = a6l; }
        if (r > 7) { a7l = Vector512.Create(bias[7]); a7h = a7l; }
        int* end = offsets + 2 * pairs;
        do
        {
            var x0 = Vector512.Load(x + offsets[0]); var x1 = Vector512.Load(x + offsets[1]);
            var lo = Avx512BW.UnpackLow(x0, x1); var hi = Avx512BW.UnpackHigh(x0, x1);
            { var s = Vector512.Create(w[0]).AsInt16(); a0l += Avx512BW.MultiplyAddAdjacent(lo, s); a0h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 1) { var s = Vector512.Create(w[1]).AsInt16(); a1l += Avx512BW.MultiplyAddAdjacent(lo, s); a1h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 2) { var s = Vector512.Create(w[2]).AsInt16(); a2l += Avx512BW.MultiplyAddAdjacent(lo, s); a2h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 3) { var s = Vector512.Create(w[3]).AsInt16(); a3l += Avx512BW.MultiplyAddAdjacent(lo, s); a3h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 4) { var s = Vector512.Create(w[4]).AsInt16(); a4l += Avx512BW.MultiplyAddAdjacent(lo, s); a4h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 5) { var s = Vector512.Create(w[5]).AsInt16(); a5l += Avx512BW.MultiplyAddAdjacent(lo, s); a5h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 6) { var s = Vector512.Create(w[6]).AsInt16(); a6l += Avx512BW.MultiplyAddAdjacent(lo, s); a6h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            if (r > 7) { var s = Vector512.Create(w[7]).AsInt16(); a7l += Avx512BW.MultiplyAddAdjacent(lo, s); a7h += Avx512BW.MultiplyAddAdjacent(hi, s); }
            offsets += 2;
            w += r;
        }
        while (offsets < end);
        Store(c + 0 * ldc, a0l, a0h);
        if (r > 1) Store(c + 1 * ldc, a1l, a1h);
        if (r > 2) Store(c + 2 * ldc, a2l, a2h);
        if (r > 3) Store(c + 3 * ldc, a3l, a3h);
        if (r > 4) Store(c + 4 * ldc, a4l, a4h);
        if (r > 5) Store(c + 5 * ldc, a5l, a5h);
        if (r > 6) Store(c + 6 * ldc, a6l, a6h);
        if (r > 7) Store(c + 7 * ldc, a7l, a7h);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(int* c, Vector512<int> low, Vector512<int> high)
    {
        // Constants built in place: a static readonly field would put a class-init check (a possible call, across
        // which every zmm is caller-saved) after the loop, and the JIT then spilled all accumulators in the loop.
        var first = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        var second = Vector512.Create(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
        (Avx512F.PermuteVar16x32x2(low, first, high)).Store(c);
        (Avx512F.PermuteVar16x32x2(low, second, high)).Store(c + 16);
    }
}
