// Requantization of one output channel's row of int32 sums (a row of a strip tile, or an output row of a direct
// convolution; lanes = pixels) to uint8: the integer steps of Requantize.RowCore (gemmlowp's MultiplyByQuantizedMultiplier,
// Requantize.cs) with the channel's one multiplier and shift broadcast, so the right-shift mask and rounding threshold are
// two scalars per row where RowCore derives them per value from per-value arrays (which its callers had to fill). A left
// shift (a multiplier above 1) or a multiplier of int.MinValue (whose square saturates) is rare enough to take RowCore itself.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>One channel's row of int32 sums to uint8 codes.</summary>
internal static unsafe class RowRequantizer
{
    /// <summary>Sums per vector step.</summary>
    private const int Width = 16;

    /// <summary>
    /// y[p] = clamp(zeroPoint + MultiplyByQuantizedMultiplier(sums[p], multiplier, shift), qmin, qmax) for p &lt; count, on
    /// <paramref name="path"/> (the scalar path runs RowCore's scalar row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(KernelPath path, int* sums, int count, int multiplier, int shift, byte zeroPoint, byte qmin, byte qmax, byte* y)
    {
        if (shift > 0 || multiplier == int.MinValue || path == KernelPath.Scalar || !Avx2.IsSupported || count < Width)
        {
            General(path, sums, count, multiplier, shift, zeroPoint, qmin, qmax, y);
            return;
        }
        int right = -shift, mask = (int)((1u << right) - 1);
        var (vMultiplier, vMask, vHalf) = (Vector256.Create(multiplier), Vector256.Create(mask), Vector256.Create(mask >> 1));
        var (zero, low, high) = (Vector256.Create((short)zeroPoint), Vector256.Create(qmin), Vector256.Create(qmax));
        // The last 16 again where the count is not a multiple (the same codes written twice).
        for (int p = 0; ; p += Width)
        {
            if (p > count - Width) p = count - Width;
            Sixteen(sums + p, vMultiplier, vMask, vHalf, right, zero, low, high).Store(y + p);
            if (p == count - Width) return;
        }
    }

    /// <summary>
    /// <see cref="Row"/> on AVX2 (the strips run on no other path) for the <paramref name="rows"/> rows of a strip tile
    /// (16 sums each, <paramref name="ldt"/> apart) with channels' constants from <paramref name="multiplier"/> and
    /// <paramref name="shift"/>, the first <paramref name="count"/> codes of each into y (rows <paramref name="ldy"/> apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int* tile, int ldt, int rows, int* multiplier, int* shift, byte zeroPoint, byte qmin, byte qmax, byte* y,
        long ldy, int count)
    {
        var (zero, low, high) = (Vector256.Create((short)zeroPoint), Vector256.Create(qmin), Vector256.Create(qmax));
        for (int r = 0; r < rows; r++, tile += ldt, y += ldy)
        {
            int m = multiplier[r], s = shift[r];
            if (s > 0 || m == int.MinValue || !Avx2.IsSupported || count < Width)
            {
                Short(tile, count, m, s, zeroPoint, qmin, qmax, y);
                continue;
            }
            int right = -s, mask = (int)((1u << right) - 1);
            Sixteen(tile, Vector256.Create(m), Vector256.Create(mask), Vector256.Create(mask >> 1), right, zero, low, high).Store(y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Sixteen(int* sums, Vector256<int> multiplier, Vector256<int> mask, Vector256<int> half, int right,
        Vector256<short> zeroPoint, Vector256<byte> qmin, Vector256<byte> qmax)
    {
        var low = Apply(Vector256.Load(sums), multiplier, mask, half, right);
        var high = Apply(Vector256.Load(sums + 8), multiplier, mask, half, right);
        // The saturating packs and add give the bytes of clamping in int32: a result beyond int16 stays beyond [0, 255].
        var shorts = Avx2.AddSaturate(Avx2.PackSignedSaturate(low, high), zeroPoint);   // p0..3, p8..11 | p4..7, p12..15
        var bytes = Vector256.Min(Vector256.Max(Avx2.PackUnsignedSaturate(shorts, shorts), qmin), qmax);
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 0, 4, 1, 5)).AsByte().GetLower();
    }

    // A ragged strip's row (or a rare constant) through a padded copy, kept out of Tile's loop.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Short(int* sums, int count, int multiplier, int shift, byte zeroPoint, byte qmin, byte qmax, byte* y)
    {
        int* padded = stackalloc int[Width];
        new ReadOnlySpan<int>(sums, count).CopyTo(new Span<int>(padded, Width));
        byte* codes = stackalloc byte[Width];
        Row(KernelPath.Avx2, padded, Width, multiplier, shift, zeroPoint, qmin, qmax, codes);
        new ReadOnlySpan<byte>(codes, count).CopyTo(new Span<byte>(y, count));
    }

    private static Vector256<int> Apply(Vector256<int> x, Vector256<int> multiplier, Vector256<int> mask, Vector256<int> half, int right) =>
        HighMulDivide(x, multiplier, multiplier, mask, half, Vector256.Create(right).AsUInt32());

    /// <summary>
    /// SaturatingRoundingDoublingHighMul on the even and odd lanes (vpmuldq multiplies the even ones; the odd lanes' multipliers
    /// in the even positions of <paramref name="oddMultiplier"/>), then RoundingDivideByPOT by <paramref name="right"/>: add one
    /// when the remainder (x &amp; mask) is above the threshold (comparisons give −1 for true). Requantize.Lanes256 for
    /// multipliers other than int.MinValue and no left shift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> HighMulDivide(Vector256<int> x, Vector256<int> multiplier, Vector256<int> oddMultiplier, Vector256<int> mask,
        Vector256<int> half, Vector256<uint> right)
    {
        var nudge = Vector256.Create(1L << 30);
        var even = Vector256.ShiftRightLogical(Avx2.Multiply(x, multiplier) + nudge, 31);
        var odd = Vector256.ShiftLeft(Avx2.Multiply(Avx2.Shuffle(x, 0b11_11_01_01), oddMultiplier) + nudge, 1);
        var h = Avx2.Blend(even.AsInt32(), odd.AsInt32(), 0b1010_1010);
        var threshold = half - Vector256.LessThan(h, Vector256<int>.Zero);
        return Avx2.ShiftRightArithmeticVariable(h, right) - Vector256.GreaterThan(h & mask, threshold);
    }

    private static void General(KernelPath path, int* sums, int count, int multiplier, int shift, byte zeroPoint, byte qmin, byte qmax,
        byte* y)
    {
        int* multipliers = stackalloc int[Width], shifts = stackalloc int[Width];
        new Span<int>(multipliers, Width).Fill(multiplier);
        new Span<int>(shifts, Width).Fill(shift);
        for (int p = 0; p < count; p += Width)
            Requantize.RowCore(path, sums + p, multipliers, shifts, Math.Min(Width, count - p), zeroPoint, qmin, qmax, y + p);
    }
}
