// Requantization of int32 accumulators to 8-bit outputs with fixed-point multipliers (Jacob et al. 2018,
// "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", §2.2),
// bit-exact with gemmlowp's fixedpoint.h and TFLite's MultiplyByQuantizedMultiplier. The scalar methods
// here are the specification; Requantize.Vector.cs runs the same integer steps 8 or 16 lanes at a time.
//
// A real multiplier M > 0 is stored as (multiplier, shift) with M ≈ multiplier · 2^(shift − 31) and
// multiplier in [2^30, 2^31); shift > 0 shifts left (M ≥ 1), shift ≤ 0 shifts right (M < 1), as in TFLite.
// Rounding, exactly: with x' = x · 2^max(shift, 0) (saturated to int32, see below) and e = max(−shift, 0),
//   h = SaturatingRoundingDoublingHighMul(x', multiplier) = floor((x' · multiplier + 2^30) / 2^31)
//       (round half up, i.e. towards +∞; the one overflow, int.MinValue², saturates to int.MaxValue),
//   r = RoundingDivideByPOT(h, e) = h / 2^e rounded to nearest, ties away from zero.
// Two roundings, so r can differ by one from round(x · M) in rare cases; the tests check r against these
// formulas in exact BigInteger arithmetic and that |r − x·M| ≤ 1 always.
// One deliberate deviation: TFLite computes x · 2^left in int32 and lets it wrap (undefined behaviour in
// C++); here the left shift saturates, so a huge accumulator with M ≥ 1 clamps instead of changing sign.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>Fixed-point requantization (gemmlowp/TFLite semantics) of int32 accumulators to int8/uint8.</summary>
public static unsafe partial class Requantize
{
    /// <summary>
    /// Splits <paramref name="realMultiplier"/> (≥ 0, finite) into a multiplier in [2^30, 2^31) and a shift with
    /// real ≈ multiplier · 2^(shift − 31). As TFLite's QuantizeMultiplier: multipliers below 2^-32 become (0, 0);
    /// at or above 2^30 they saturate to (2^31 − 1, 30).
    /// </summary>
    public static void QuantizeMultiplier(double realMultiplier, out int multiplier, out int shift)
    {
        if (!double.IsFinite(realMultiplier) || realMultiplier < 0)
            throw new ArgumentOutOfRangeException(nameof(realMultiplier), realMultiplier, "a requantization multiplier must be finite and non-negative");
        if (realMultiplier == 0) { multiplier = 0; shift = 0; return; }
        // frexp: real = q · 2^shift with q in [0.5, 1); ScaleB is exact.
        shift = Math.ILogB(realMultiplier) + 1;
        double q = Math.ScaleB(realMultiplier, -shift);
        long fixedQ = (long)Math.Round(q * (1L << 31), MidpointRounding.AwayFromZero);
        if (fixedQ == 1L << 31) { fixedQ /= 2; shift++; }
        if (shift < -31) { multiplier = 0; shift = 0; return; }
        if (shift > 30) { multiplier = int.MaxValue; shift = 30; return; }
        multiplier = (int)fixedQ;
    }

    /// <summary>
    /// acc · multiplier · 2^(shift − 31) rounded as gemmlowp does (see the file header); shift in [−31, 30].
    /// </summary>
    public static int MultiplyByQuantizedMultiplier(int acc, int multiplier, int shift)
    {
        CheckShift(shift);
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(SaturatingShiftLeft(acc, left), multiplier), right);
    }

    /// <summary>gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2·a·b, rounded half up.</summary>
    public static int SaturatingRoundingDoublingHighMul(int a, int b)
    {
        if (a == int.MinValue && b == int.MinValue) return int.MaxValue;
        long ab = (long)a * b;
        long nudge = ab >= 0 ? 1L << 30 : 1 - (1L << 30);
        return (int)((ab + nudge) / (1L << 31)); // C-style division truncates towards zero, as in gemmlowp
    }

    /// <summary>gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31].</summary>
    public static int RoundingDivideByPOT(int x, int exponent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(exponent, 31);
        int mask = (int)((1L << exponent) - 1);
        int remainder = x & mask;
        int threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        return (x >> exponent) + (remainder > threshold ? 1 : 0);
    }

    /// <summary>
    /// y[j] = clamp(zeroPoint + MultiplyByQuantizedMultiplier(acc[j], multiplier[j], shift[j]), qmin, qmax) for
    /// per-channel multipliers, narrowed to uint8. ReLU is fused by passing qmin = zeroPoint.
    /// </summary>
    public static void Row(ReadOnlySpan<int> acc, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        int zeroPoint, int qmin, int qmax, Span<byte> y)
    {
        CheckRow(acc.Length, multiplier.Length, shift.Length, y.Length, zeroPoint, qmin, qmax, byte.MinValue, byte.MaxValue);
        CheckShifts(shift);
        fixed (int* pa = acc, pm = multiplier, ps = shift)
        fixed (byte* py = y)
            RowCore(Cpu.Active, pa, pm, ps, acc.Length, zeroPoint, qmin, qmax, py);
    }

    /// <summary>The int8 form of <see cref="Row(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int, int, int, Span{byte})"/>.</summary>
    public static void Row(ReadOnlySpan<int> acc, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        int zeroPoint, int qmin, int qmax, Span<sbyte> y)
    {
        CheckRow(acc.Length, multiplier.Length, shift.Length, y.Length, zeroPoint, qmin, qmax, sbyte.MinValue, sbyte.MaxValue);
        CheckShifts(shift);
        // The clamp keeps every value in [qmin, qmax]; its low byte is the int8 (or uint8) bit pattern.
        fixed (int* pa = acc, pm = multiplier, ps = shift)
        fixed (sbyte* py = y)
            RowCore(Cpu.Active, pa, pm, ps, acc.Length, zeroPoint, qmin, qmax, (byte*)py);
    }

    /// <summary>The scalar row: the specification of the vector rows.</summary>
    internal static void RowScalar(int* acc, int* multiplier, int* shift, int count, int zeroPoint, int qmin, int qmax, byte* y)
    {
        for (int j = 0; j < count; j++)
        {
            long v = zeroPoint + (long)MultiplyByQuantizedMultiplier(acc[j], multiplier[j], shift[j]);
            y[j] = (byte)Math.Clamp(v, qmin, qmax);
        }
    }

    internal static void CheckRow(int accLength, int multiplierLength, int shiftLength, int yLength,
        int zeroPoint, int qmin, int qmax, int typeMin, int typeMax)
    {
        if (multiplierLength != accLength || shiftLength != accLength || yLength != accLength)
            throw new ArgumentException(
                $"acc, multiplier, shift and y must have the same length (got {accLength}, {multiplierLength}, {shiftLength}, {yLength})");
        if (qmin < typeMin || qmax > typeMax || qmin > qmax)
            throw new ArgumentOutOfRangeException(nameof(qmin), $"need {typeMin} ≤ qmin ≤ qmax ≤ {typeMax} (got [{qmin}, {qmax}])");
        if (zeroPoint < typeMin || zeroPoint > typeMax)
            throw new ArgumentOutOfRangeException(nameof(zeroPoint), zeroPoint, $"the zero point must lie in [{typeMin}, {typeMax}]");
    }

    internal static void CheckShifts(ReadOnlySpan<int> shift)
    {
        foreach (int s in shift) CheckShift(s);
    }

    private static void CheckShift(int shift)
    {
        if (shift < -31 || shift > 30)
            throw new ArgumentOutOfRangeException(nameof(shift), shift, "a requantization shift must lie in [-31, 30]");
    }

    private static int SaturatingShiftLeft(int x, int left)
    {
        long v = (long)x << left;
        return v > int.MaxValue ? int.MaxValue : v < int.MinValue ? int.MinValue : (int)v;
    }
}
