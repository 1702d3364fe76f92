// The error function over a span, vectorised: Abramowitz & Stegun 7.1.26, erf(a) ≈ 1 − t·P(t)·e^(−a²) with
// t = 1/(1 + p·a) for a = |x| and the sign copied back (|error| ≤ 1.5e−7). The transformer GELU of BERT-style
// exports, 0.5·x·(1 + erf(x/√2)), spends its time here. Reference is the scalar loop in double (Tensor.ErfDouble
// precision class); the vector paths compute the same formula in float on Vector512/Vector256 lanes (e^(−a²) by
// ExpKernel's float-lane exp, several times quicker than .NET's, which goes through double), the tail through the float
// scalar formula. Large spans are split between threads (LanePass.InChunks); each element is independent.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>erf(x) elementwise.</summary>
internal static class ErfKernel
{
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    /// <summary>y = erf(x) on the active path; x and y have the same length and may be the same span.</summary>
    public static void Apply(float[] x, float[] y) => LanePass.InChunks(x, y, Run);

    /// <summary>y = erf(x) on <paramref name="path"/>, one thread.</summary>
    public static void Run(KernelPath path, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated)
            for (; i + 16 <= x.Length; i += 16) Vector512.Create(x.Slice(i, 16)).Erf().CopyTo(y.Slice(i, 16));
        else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated)
            for (; i + 8 <= x.Length; i += 8) Vector256.Create(x.Slice(i, 8)).Erf().CopyTo(y.Slice(i, 8));
        else
        {
            for (; i < x.Length; i++) y[i] = Reference(x[i]);
            return;
        }
        for (; i < x.Length; i++) y[i] = Scalar(x[i]);
    }

    /// <summary>The formula in double: the reference the float paths are checked against.</summary>
    public static float Reference(float x)
    {
        double a = Math.Abs(x), t = 1.0 / (1.0 + 0.3275911 * a);
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        return (float)Math.CopySign(1.0 - poly * Math.Exp(-a * a), x);
    }

    // The vector paths' formula on one element.
    internal static float Scalar(float x)
    {
        float a = MathF.Abs(x), t = 1f / (1f + P * a);
        float poly = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5))));
        return MathF.CopySign(1f - poly * MathF.Exp(-a * a), x);
    }

    /// <summary>erf on 16 lanes (the Avx512 path's formula).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Erf(this Vector512<float> x)
    {
        var a = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(P) * a);
        var poly = t * (Vector512.Create(A1) + t * (Vector512.Create(A2) + t * (Vector512.Create(A3) + t * (Vector512.Create(A4) + t * A5))));
        var e = Vector512<float>.One - poly * ExpKernel.Exp(-(a * a));
        return Vector512.CopySign(e, x);
    }

    /// <summary>erf on 8 lanes (the Avx2 path's formula).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Erf(this Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(P) * a);
        var poly = t * (Vector256.Create(A1) + t * (Vector256.Create(A2) + t * (Vector256.Create(A3) + t * (Vector256.Create(A4) + t * A5))));
        var e = Vector256<float>.One - poly * ExpKernel.Exp(-(a * a));
        return Vector256.CopySign(e, x);
    }
}
