// eˣ on float lanes, in float arithmetic: the exponentials of a transformer's softmax (e^(x − max) over every attention
// score) and of its GELU's erf (e^(−a²)). .NET's Vector512.Exp and TensorPrimitives.Exp compute float exp through double
// lanes (~80 cycles per 16 values measured on Zen 4, most of a softmax row's time); this is Cephes' expf (S. Moshier,
// Cephes Math Library, expf.c): n = round(x·log₂e) (by the 1.5·2²³ shift, which leaves n in the low bits), r = x − n·ln 2
// in two parts (exact high part, then the low), e^r by a degree-7 polynomial in fused multiply-adds, and 2ⁿ put into the
// exponent bits — relative error ≈ 1 ulp on the normal range; every path makes the same fused roundings, so the lanes
// give the scalar function's bits. The lane forms are inlined into their callers (GELU's erf, the softmax): called, the JIT
// passed the vectors through memory in some tierings, and the GELU pass measured anywhere from 0.95 to 2.5 ns an element
// (0.8–0.9 inlined). Arguments
// below −87.33 (e^x under the smallest normal float) give 0, NaN gives NaN; the arguments it serves are ≤ 0, and it
// stays accurate up to 88.37 (2¹²⁷·e^0.35), above which it gives +∞. Reference: Math.Exp in double.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Condense.Kernels.Transformer;

/// <summary>Float-lane eˣ (Cephes expf).</summary>
internal static class ExpKernel
{
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    // 1.5·2²³: adding it rounds a float below 2²² to an integer held in the low mantissa bits (bits 0x4B400000 + n).
    private const float Magic = 12582912f;
    private const int ExponentBias = 127 - 0x4B400000;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
        P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>Below this e^x is under the smallest normal float: the result is 0.</summary>
    public const float Low = -87.3365448f;

    /// <summary>Above this 2ⁿ would overflow the exponent: the result is +∞.</summary>
    public const float High = 88.3762626f;

    /// <summary>eˣ on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Low)), Vector512.Create(High));
        var shifted = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(Magic));
        var n = shifted - Vector512.Create(Magic);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), clamped));
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        var e = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One)
            * Vector512.ShiftLeft(shifted.AsInt32() + Vector512.Create(ExponentBias), 23).AsSingle();
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Low)), Vector512<float>.Zero, e);
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(High)), Vector512.Create(float.PositiveInfinity), e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    /// <summary>eˣ on 8 lanes (the same formula).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(Low)), Vector256.Create(High));
        var shifted = Vector256.FusedMultiplyAdd(clamped, Vector256.Create(Log2E), Vector256.Create(Magic));
        var n = shifted - Vector256.Create(Magic);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), clamped));
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        var e = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One)
            * Vector256.ShiftLeft(shifted.AsInt32() + Vector256.Create(ExponentBias), 23).AsSingle();
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Low)), Vector256<float>.Zero, e);
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(High)), Vector256.Create(float.PositiveInfinity), e);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    /// <summary>eˣ of one value by the same formula, the same fused roundings (the vector paths' tails).</summary>
    internal static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x < Low) return 0f;
        if (x > High) return float.PositiveInfinity;
        float shifted = MathF.FusedMultiplyAdd(x, Log2E, Magic), n = shifted - Magic;
        float r = MathF.FusedMultiplyAdd(n, -Ln2Low, MathF.FusedMultiplyAdd(n, -Ln2High, x));
        float p = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(
            MathF.FusedMultiplyAdd(P0, r, P1), r, P2), r, P3), r, P4), r, P5);
        return MathF.FusedMultiplyAdd(p, r * r, r + 1f) * BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(shifted) + ExponentBias) << 23);
    }
}
