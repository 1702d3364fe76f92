// QuantizeToByte on 16 lanes (AVX-512F), the input step of the integer engine at batch size: the 8-lane AVX
// loop ran ~30 instructions per 8 values (76 µs for a 256×784 batch, measured), and its division alone would
// keep a 16-lane loop at ~40 µs. Here t = x·(1/scale) replaces x / scale where that cannot change the rounded
// result: the product carries two roundings, |t − x/scale| ≤ 2^-22·|t|, so round(t) = round(x/scale) unless
// x/scale is that close to a half-integer; a vector with such a lane is recomputed with the exact division.
// A reciprocal that is not a normal float (a subnormal or huge scale) keeps the division throughout. The
// rest is the AVX loop's: round half to even, zero point added in float, NaN to the zero point, clamp, narrow.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Int8Gemm;

internal static unsafe partial class QuantizeLinear
{
    // Returns how many values it wrote (a multiple of 16); the caller's scalar loop does the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int QuantizeToByteAvx512(ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref byte pq = ref MemoryMarshal.GetReference(q);
        float reciprocal = 1f / scale;
        bool multiply = float.IsNormal(reciprocal);
        var s = Vector512.Create(scale); var inv = Vector512.Create(reciprocal);
        var z = Vector512.Create((float)zeroPoint);
        var lo = Vector512<float>.Zero; var hi = Vector512.Create(255f);
        var half = Vector512.Create(0.5f); var slack = Vector512.Create(1f / (1 << 20));
        int i = 0;
        for (; i <= x.Length - 16; i += 16)
        {
            var xv = Vector512.LoadUnsafe(ref px, (nuint)i);
            Vector512<float> rounded;
            if (multiply)
            {
                var t = xv * inv;
                rounded = Avx512F.RoundScale(t, 0);   // round to nearest even
                // |t − round(t)| within the slack of 1/2: the product may round the other way than the quotient.
                var margin = half - Vector512.Abs(t - rounded);
                if (Vector512.LessThanOrEqualAny(margin, Vector512.Abs(t) * slack)) rounded = Avx512F.RoundScale(Avx512F.Divide(xv, s), 0);
            }
            else rounded = Avx512F.RoundScale(Avx512F.Divide(xv, s), 0);
            var r = rounded + z;
            r = Vector512.ConditionalSelect(Vector512.Equals(r, r), r, z);   // NaN → zero point
            var v = Avx512F.ConvertToVector512Int32(Avx512F.Min(Avx512F.Max(r, lo), hi));
            Avx512F.ConvertToVector128Byte(v).StoreUnsafe(ref pq, (nuint)i);
        }
        return i;
    }

    /// <summary>
    /// <see cref="Quantize"/> on 16 lanes by the exact division (the kernels that requantize a computed value: a batch norm of
    /// codes, a pool of codes): round(v / scale) half to even + zero point in float, NaN to the zero point, clamped to
    /// [<paramref name="lo"/>, <paramref name="hi"/>] (within 0–255), narrowed to bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> ToCodes(Vector512<float> v, Vector512<float> scale, Vector512<float> zeroPoint, Vector512<float> lo,
        Vector512<float> hi)
    {
        var r = Avx512F.RoundScale(Avx512F.Divide(v, scale), 0) + zeroPoint;
        r = Vector512.ConditionalSelect(Vector512.Equals(r, r), r, zeroPoint);
        return Avx512F.ConvertToVector128Byte(Avx512F.ConvertToVector512Int32(Avx512F.Min(Avx512F.Max(r, lo), hi)));
    }
}
