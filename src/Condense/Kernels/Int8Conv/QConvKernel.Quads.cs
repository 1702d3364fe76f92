// The vpdpbusd tile of QConv2dQuads: up to 6 channel rows × 16 output positions in 12 ymm of int32. The image
// holds four input channels per int32 (uint8 each), so a quad of taps — channels 4g..4g+3 at one (kh, kw) — is
// one contiguous 32-byte load per 8 positions, already in the operand layout of vpdpbusd: no unpacking (the
// pair kernels interleave two loads per tap pair). Per quad: two loads, and per row one broadcast weight quad
// and two dot-of-four steps. Lanes are positions in order, so the store needs no permute. Generic over the
// step (Int8Gemm/Dot4.cs), so the AVX2 emulation runs the same code where AVX-VNNI is absent, and so does vpmaddubsw
// for weights whose channel pairs cannot saturate it (QConv2d.Direct decides).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;

namespace Condense.Kernels.Int8Conv;

/// <summary>Up to 6 channel rows × 16 positions over uint8 channel quads with the step <typeparamref name="TDot"/>.</summary>
internal static unsafe class QConvKernelQuads<TDot> where TDot : struct, IDot4
{
    /// <summary>Most channel rows per tile.</summary>
    public const int MaxRows = 6;

    /// <summary>Output positions per tile.</summary>
    public const int NR = 16;

    /// <summary>
    /// c[i·ldc + j] = bias[i] + Σ_p Σ_{b&lt;4} byte b of x[offsets[p] + j] · byte b of w[p·rows + i], j &lt; NR
    /// (x: uint8 quads, w: int8 quads); quads ≥ 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int rows, int quads, int* w, int* x, int* offsets, int* bias, int* c, int ldc)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(quads, w, x, offsets, bias, c, ldc); break;
            case 2: Tile<Rows2>(quads, w, x, offsets, bias, c, ldc); break;
            case 3: Tile<Rows3>(quads, w, x, offsets, bias, c, ldc); break;
            case 4: Tile<Rows4>(quads, w, x, offsets, bias, c, ldc); break;
            case 5: Tile<Rows5>(quads, w, x, offsets, bias, c, ldc); break;
            case 6: Tile<Rows6>(quads, w, x, offsets, bias, c, ldc); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(int quads, int* w, int* x, int* offsets, int* bias, int* c, int ldc) where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<int> a0l = default, a0h = default, a1l = default, a1h = default, a2l = default, a2h = default,
            a3l = default, a3h = default, a4l = default, a4h = default, a5l = default, a5h = default;
        { a0l = Vector256.Create(bias[0]); a0h = a0l; }
        if (r > 1) { a1l = Vector256.Create(bias[1]); a1h = a1l; }
        if (r > 2) { a2l = Vector256.Create(bias[2]); a2h = a2l; }
        if (r > 3) { a3l = Vector256.Create(bias[3]); a3h = a3l; }
        if (r > 4) { a4l = Vector256.Create(bias[4]); a4h = a4l; }
        if (r > 5) { a5l = Vector256.Create(bias[5]); a5h = a5l; }
        int* end = offsets + quads;
        do
        {
            int* xq = x + offsets[0];
            var lo = Vector256.Load(xq).AsByte(); var hi = Vector256.Load(xq + 8).AsByte();
            { var s = Vector256.Create(w[0]).AsSByte(); a0l = TDot.Accumulate(a0l, lo, s); a0h = TDot.Accumulate(a0h, hi, s); }
            if (r > 1) { var s = Vector256.Create(w[1]).AsSByte(); a1l = TDot.Accumulate(a1l, lo, s); a1h = TDot.Accumulate(a1h, hi, s); }
            if (r > 2) { var s = Vector256.Create(w[2]).AsSByte(); a2l = TDot.Accumulate(a2l, lo, s); a2h = TDot.Accumulate(a2h, hi, s); }
            if (r > 3) { var s = Vector256.Create(w[3]).AsSByte(); a3l = TDot.Accumulate(a3l, lo, s); a3h = TDot.Accumulate(a3h, hi, s); }
            if (r > 4) { var s = Vector256.Create(w[4]).AsSByte(); a4l = TDot.Accumulate(a4l, lo, s); a4h = TDot.Accumulate(a4h, hi, s); }
            if (r > 5) { var s = Vector256.Create(w[5]).AsSByte(); a5l = TDot.Accumulate(a5l, lo, s); a5h = TDot.Accumulate(a5h, hi, s); }
            offsets++;
            w += r;
        }
        while (offsets < end);
        a0l.Store(c); a0h.Store(c + 8);
        if (r > 1) { a1l.Store(c + ldc); a1h.Store(c + ldc + 8); }
        if (r > 2) { a2l.Store(c + 2 * ldc); a2h.Store(c + 2 * ldc + 8); }
        if (r > 3) { a3l.Store(c + 3 * ldc); a3h.Store(c + 3 * ldc + 8); }
        if (r > 4) { a4l.Store(c + 4 * ldc); a4h.Store(c + 4 * ldc + 8); }
        if (r > 5) { a5l.Store(c + 5 * ldc); a5h.Store(c + 5 * ldc + 8); }
    }
}
