// eˣ on float lanes, in float arithmetic: the exponentials of a transformer's softmax (e^(x − max) over every attention
// score) and of its GELU's erf (e^(−a²)). .NET's Vector512.Exp and TensorPrimitives.Exp compute float exp through double
// lanes (~80 cycles per 16 values measured on Zen 4, most of a softmax row's time); this is Cephes' expf (S. Moshier,
// Cephes Math Library, expf.c): n = round(x·log₂e), r = x − n·ln 2 in two parts (exact high part, then the low), e^r by
// a degree-7 polynomial, and 2ⁿ put into the exponent bits — relative error ≈ 1 ulp on the normal range. Arguments
// below −87.33 (e^x under the smallest normal float) give 0, NaN gives NaN; the arguments it serves are ≤ 0, and it
// stays accurate up to 88.37 (2¹²⁷·e^0.35), above which it gives +∞. Reference: Math.Exp in double.
using System.Runtime.Intrinsics;

namespace Condense.Kernels.Transformer;

/// <summary>Float-lane eˣ (Cephes expf).</summary>
internal static class ExpKernel
{
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
        P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>Below this e^x is under the smallest normal float: the result is 0.</summary>
    public const float Low = -87.3365448f;

    /// <summary>Above this 2ⁿ would overflow the exponent: the result is +∞.</summary>
    public const float High = 88.3762626f;

    /// <summary>eˣ on 16 lanes.</summary>
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(Low)), Vector512.Create(High));
        var n = Vector512.Round(clamped * Vector512.Create(Log2E));
        var r = clamped - n * Vector512.Create(Ln2High) - n * Vector512.Create(Ln2Low);
        var p = ((((Vector512.Create(P0) * r + Vector512.Create(P1)) * r + Vector512.Create(P2)) * r + Vector512.Create(P3)) * r
            + Vector512.Create(P4)) * r + Vector512.Create(P5);
        var e = (p * (r * r) + r + Vector512<float>.One)
            * Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Low)), Vector512<float>.Zero, e);
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(High)), Vector512.Create(float.PositiveInfinity), e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    /// <summary>eˣ on 8 lanes (the same formula).</summary>
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(Low)), Vector256.Create(High));
        var n = Vector256.Round(clamped * Vector256.Create(Log2E));
        var r = clamped - n * Vector256.Create(Ln2High) - n * Vector256.Create(Ln2Low);
        var p = ((((Vector256.Create(P0) * r + Vector256.Create(P1)) * r + Vector256.Create(P2)) * r + Vector256.Create(P3)) * r
            + Vector256.Create(P4)) * r + Vector256.Create(P5);
        var e = (p * (r * r) + r + Vector256<float>.One)
            * Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Low)), Vector256<float>.Zero, e);
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(High)), Vector256.Create(float.PositiveInfinity), e);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    /// <summary>eˣ of one value by the same formula (the vector paths' tails).</summary>
    internal static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x < Low) return 0f;
        if (x > High) return float.PositiveInfinity;
        float n = MathF.Round(x * Log2E), r = x - n * Ln2High - n * Ln2Low;
        float p = ((((P0 * r + P1) * r + P2) * r + P3) * r + P4) * r + P5;
        return (p * (r * r) + r + 1f) * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }
}
