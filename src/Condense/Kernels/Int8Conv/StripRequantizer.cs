// Requantization of one output channel's 16 int32 sums (a row of a strip tile, lanes = pixels) to uint8: the integer steps of
// Requantize.RowCore (gemmlowp's MultiplyByQuantizedMultiplier, Requantize.cs) with the channel's one multiplier and shift
// broadcast, so the right-shift mask and rounding threshold are two scalars per row where RowCore derives them per value
// from per-value arrays. A left shift (a multiplier above 1) or a multiplier of int.MinValue (whose square saturates) is
// rare enough to take RowCore itself.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>One channel's row of 16 int32 sums to uint8 codes.</summary>
internal static unsafe class StripRequantizer
{
    /// <summary>Sums per row.</summary>
    public const int Width = 16;

    /// <summary>
    /// y[p] = clamp(zeroPoint + MultiplyByQuantizedMultiplier(sums[p], multiplier, shift), qmin, qmax) for p &lt; count
    /// (≤ 16; <paramref name="sums"/> holds 16 values whatever the count).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Row(int* sums, int multiplier, int shift, byte zeroPoint, byte qmin, byte qmax, byte* y, int count)
    {
        if (shift > 0 || multiplier == int.MinValue || !Avx2.IsSupported)
        {
            General(sums, multiplier, shift, zeroPoint, qmin, qmax, y, count);
            return;
        }
        int right = -shift, mask = (int)((1u << right) - 1);
        var (vMultiplier, vMask, vHalf) = (Vector256.Create(multiplier), Vector256.Create(mask), Vector256.Create(mask >> 1));
        var low = Apply(Vector256.Load(sums), vMultiplier, vMask, vHalf, right);
        var high = Apply(Vector256.Load(sums + 8), vMultiplier, vMask, vHalf, right);
        // The saturating packs and add give the bytes of clamping in int32: a result beyond int16 stays beyond [0, 255].
        var shorts = Avx2.AddSaturate(Avx2.PackSignedSaturate(low, high), Vector256.Create((short)zeroPoint)); // p0..3, p8..11 | p4..7, p12..15
        var bytes = Vector256.Min(Vector256.Max(Avx2.PackUnsignedSaturate(shorts, shorts), Vector256.Create(qmin)), Vector256.Create(qmax));
        var ordered = Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 0, 4, 1, 5)).AsByte().GetLower();
        if (count == Width) { ordered.Store(y); return; }
        byte* codes = stackalloc byte[Width];
        ordered.Store(codes);
        new ReadOnlySpan<byte>(codes, count).CopyTo(new Span<byte>(y, count));
    }

    // SaturatingRoundingDoublingHighMul on the even and odd lanes (vpmuldq multiplies the even ones), then RoundingDivideByPOT:
    // add one when the remainder is above the threshold (comparisons give −1 for true). As Requantize.Lanes256 for a
    // multiplier other than int.MinValue and no left shift.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Apply(Vector256<int> x, Vector256<int> multiplier, Vector256<int> mask, Vector256<int> half, int right)
    {
        var nudge = Vector256.Create(1L << 30);
        var even = Vector256.ShiftRightLogical(Avx2.Multiply(x, multiplier) + nudge, 31);
        var odd = Vector256.ShiftLeft(Avx2.Multiply(Avx2.Shuffle(x, 0b11_11_01_01), multiplier) + nudge, 1);
        var h = Avx2.Blend(even.AsInt32(), odd.AsInt32(), 0b1010_1010);
        var threshold = half - Vector256.LessThan(h, Vector256<int>.Zero);
        return Vector256.ShiftRightArithmetic(h, right) - Vector256.GreaterThan(h & mask, threshold);
    }

    private static void General(int* sums, int multiplier, int shift, byte zeroPoint, byte qmin, byte qmax, byte* y, int count)
    {
        int* multipliers = stackalloc int[Width], shifts = stackalloc int[Width];
        new Span<int>(multipliers, Width).Fill(multiplier);
        new Span<int>(shifts, Width).Fill(shift);
        Requantize.RowCore(Cpu.Active, sums, multipliers, shifts, count, zeroPoint, qmin, qmax, y);
    }
}
