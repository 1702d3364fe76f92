// The AVX2 tile of QConv2dDirect: up to 6 channel rows × 16 output positions in 12 ymm of int32. Per tap
// pair: two 16-wide int16 loads, vpunpcklwd/vpunpckhwd into (x[q + o0], x[q + o1]) pairs — positions
// {0–3, 8–11} and {4–7, 12–15} — and per row two vpmaddwd against the broadcast weight pair plus two vpaddd.
// vperm2i128 puts the positions back in order at the store.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Up to 6 channel rows × 16 positions with AVX2 vpmaddwd.</summary>
internal unsafe struct QConvKernelAvx2 : IQConvKernel
{
    public static KernelPath Path => KernelPath.Avx2;
    public static int MaxRows => 6;
    public static int NR => 16;

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
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(int pairs, int* w, short* x, int* offsets, int* bias, int* c, int ldc) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<int> a0l = default, a0h = default, a1l = default, a1h = default, a2l = default, a2h = default,
            a3l = default, a3h = default, a4l = default, a4h = default, a5l = default, a5h = default;
        // Both halves start at the bias: every lane is one output position.
        { a0l = Vector256.Create(bias[0]); a0h = a0l; }
        if (r > 1) { a1l = Vector256.Create(bias[1]); a1h = a1l; }
        if (r > 2) { a2l = Vector256.Create(bias[2]); a2h = a2l; }
        if (r > 3) { a3l = Vector256.Create(bias[3]); a3h = a3l; }
        if (r > 4) { a4l = Vector256.Create(bias[4]); a4h = a4l; }
        if (r > 5) { a5l = Vector256.Create(bias[5]); a5h = a5l; }
        int* end = offsets + 2 * pairs;
        do
        {
            var x0 = Vector256.Load(x + offsets[0]); var x1 = Vector256.Load(x + offsets[1]);
            var lo = Avx2.UnpackLow(x0, x1); var hi = Avx2.UnpackHigh(x0, x1);
            { var s = Vector256.Create(w[0]).AsInt16(); a0l += Avx2.MultiplyAddAdjacent(lo, s); a0h += Avx2.MultiplyAddAdjacent(hi, s); }
            if (r > 1) { var s = Vector256.Create(w[1]).AsInt16(); a1l += Avx2.MultiplyAddAdjacent(lo, s); a1h += Avx2.MultiplyAddAdjacent(hi, s); }
            if (r > 2) { var s = Vector256.Create(w[2]).AsInt16(); a2l += Avx2.MultiplyAddAdjacent(lo, s); a2h += Avx2.MultiplyAddAdjacent(hi, s); }
            if (r > 3) { var s = Vector256.Create(w[3]).AsInt16(); a3l += Avx2.MultiplyAddAdjacent(lo, s); a3h += Avx2.MultiplyAddAdjacent(hi, s); }
            if (r > 4) { var s = Vector256.Create(w[4]).AsInt16(); a4l += Avx2.MultiplyAddAdjacent(lo, s); a4h += Avx2.MultiplyAddAdjacent(hi, s); }
            if (r > 5) { var s = Vector256.Create(w[5]).AsInt16(); a5l += Avx2.MultiplyAddAdjacent(lo, s); a5h += Avx2.MultiplyAddAdjacent(hi, s); }
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
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(int* c, Vector256<int> low, Vector256<int> high)
    {
        (Avx2.Permute2x128(low, high, 0x20)).Store(c);
        (Avx2.Permute2x128(low, high, 0x31)).Store(c + 8);
    }
}
