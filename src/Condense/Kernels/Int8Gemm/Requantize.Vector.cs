// The vector rows of Requantize: the scalar steps of Requantize.cs on 16 (AVX-512) or 8 (AVX2) lanes.
// vpmuldq multiplies only the even int32 lanes into int64, so the odd lanes are shifted down and
// multiplied separately. Only the low 32 bits of (a·b + 2^30) >> 31 are kept, and those bits are the
// same for a logical and an arithmetic shift, so AVX2 (which has no 64-bit arithmetic shift) needs none.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

public static unsafe partial class Requantize
{
    /// <summary>y[j] = clamp(zeroPoint + MultiplyByQuantizedMultiplier(acc[j], …), qmin, qmax) on <paramref name="path"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowCore(KernelPath path, int* acc, int* multiplier, int* shift, int count,
        int zeroPoint, int qmin, int qmax, byte* y)
    {
        int j = 0;
        if (path == KernelPath.Avx512)
        {
            var lo = Vector512.Create(qmin - zeroPoint); var hi = Vector512.Create(qmax - zeroPoint); var zp = Vector512.Create(zeroPoint);
            for (; j <= count - 16; j += 16)
            {
                var r = Vector512.Max(Vector512.Min(Lanes512(Vector512.Load(acc + j), Vector512.Load(multiplier + j), Vector512.Load(shift + j)), hi), lo) + zp;
                Avx512F.ConvertToVector128Byte(r).Store(y + j); // vpmovdb truncates; the clamp made it exact
            }
        }
        else if (path == KernelPath.Avx2)
        {
            var lo = Vector256.Create(qmin - zeroPoint); var hi = Vector256.Create(qmax - zeroPoint); var zp = Vector256.Create(zeroPoint);
            for (; j <= count - 8; j += 8)
            {
                var r = Vector256.Max(Vector256.Min(Lanes256(Vector256.Load(acc + j), Vector256.Load(multiplier + j), Vector256.Load(shift + j)), hi), lo) + zp;
                var bytes = Vector256.Narrow(Vector256.Narrow(r, r), default(Vector256<short>));
                *(long*)(y + j) = bytes.AsInt64().ToScalar();
            }
        }
        // Clamping to [qmin − zp, qmax − zp] before adding zp (as above) cannot overflow; the scalar row adds in int64.
        RowScalar(acc + j, multiplier + j, shift + j, count - j, zeroPoint, qmin, qmax, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Lanes512(Vector512<int> x, Vector512<int> multiplier, Vector512<int> shift)
    {
        var left = Vector512.Max(shift, Vector512<int>.Zero).AsUInt32();
        var right = Vector512.Max(-shift, Vector512<int>.Zero).AsUInt32();
        // Saturating x · 2^left: if shifting back does not return x, the shift overflowed.
        var shifted = Avx512F.ShiftLeftLogicalVariable(x, left);
        var saturated = Vector512.Create(int.MaxValue) ^ Vector512.ShiftRightArithmetic(x, 31);
        x = Vector512.ConditionalSelect(Vector512.Equals(Avx512F.ShiftRightArithmeticVariable(shifted, left), x), shifted, saturated);
        // SaturatingRoundingDoublingHighMul: floor((x·m + 2^30) / 2^31).
        var nudge = Vector512.Create(1L << 30);
        var even = Vector512.ShiftRightLogical(Avx512F.Multiply(x, multiplier) + nudge, 31);
        var odd = Vector512.ShiftLeft(Avx512F.Multiply(Vector512.ShiftRightLogical(x.AsInt64(), 32).AsInt32(),
            Vector512.ShiftRightLogical(multiplier.AsInt64(), 32).AsInt32()) + nudge, 1);
        var high = Vector512.ConditionalSelect(Vector512.Create(0xFFFF_FFFFL), even, odd).AsInt32();
        var minimum = Vector512.Create(int.MinValue);
        high = Vector512.ConditionalSelect(Vector512.Equals(x, minimum) & Vector512.Equals(multiplier, minimum), Vector512.Create(int.MaxValue), high);
        // RoundingDivideByPOT: add one when the remainder is above the threshold (comparisons give −1 for true).
        var mask = Avx512F.ShiftLeftLogicalVariable(Vector512<int>.One, right) - Vector512<int>.One;
        var threshold = Vector512.ShiftRightArithmetic(mask, 1) - Vector512.LessThan(high, Vector512<int>.Zero);
        return Avx512F.ShiftRightArithmeticVariable(high, right) - Vector512.GreaterThan(high & mask, threshold);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Lanes256(Vector256<int> x, Vector256<int> multiplier, Vector256<int> shift)
    {
        var left = Vector256.Max(shift, Vector256<int>.Zero).AsUInt32();
        var right = Vector256.Max(-shift, Vector256<int>.Zero).AsUInt32();
        var shifted = Avx2.ShiftLeftLogicalVariable(x, left);
        var saturated = Vector256.Create(int.MaxValue) ^ Vector256.ShiftRightArithmetic(x, 31);
        x = Vector256.ConditionalSelect(Vector256.Equals(Avx2.ShiftRightArithmeticVariable(shifted, left), x), shifted, saturated);
        var nudge = Vector256.Create(1L << 30);
        var even = Vector256.ShiftRightLogical(Avx2.Multiply(x, multiplier) + nudge, 31);
        var odd = Vector256.ShiftLeft(Avx2.Multiply(Vector256.ShiftRightLogical(x.AsInt64(), 32).AsInt32(),
            Vector256.ShiftRightLogical(multiplier.AsInt64(), 32).AsInt32()) + nudge, 1);
        var high = Vector256.ConditionalSelect(Vector256.Create(0xFFFF_FFFFL), even, odd).AsInt32();
        var minimum = Vector256.Create(int.MinValue);
        high = Vector256.ConditionalSelect(Vector256.Equals(x, minimum) & Vector256.Equals(multiplier, minimum), Vector256.Create(int.MaxValue), high);
        var mask = Avx2.ShiftLeftLogicalVariable(Vector256<int>.One, right) - Vector256<int>.One;
        var threshold = Vector256.ShiftRightArithmetic(mask, 1) - Vector256.LessThan(high, Vector256<int>.Zero);
        return Avx2.ShiftRightArithmeticVariable(high, right) - Vector256.GreaterThan(high & mask, threshold);
    }
}
