// The logistic sigmoid σ(x) = 1 / (1 + e^−x) and Swish x · σ(αx) (SiLU for α = 1; Ramachandran et al. 2017, "Searching for
// Activation Functions") over a span, vectorised. EfficientNet, MobileNetV3's SE gates and YOLO-style detectors spend
// a third of their float time here: .NET's TensorPrimitives.Sigmoid computes float exp through double lanes (~0.4 ns an
// element on one core of the Zen 5 VM); this is ExpKernel's float-lane exp (Cephes expf, ≈ 1 ulp) then one division,
// with the SiLU's product in the same pass so its activations are read once. Swish is written as x / (1 + e^(−αx)): one
// rounding fewer than x · σ(αx), and for large negative x (e^(−αx) = +∞) the quotient is −0 as the limit is, not NaN.
// The reference is the scalar formula in double; a span's ragged end goes through a padded vector, so every element has
// the lanes' bits; large spans are split between threads (each element is independent, so the split changes no bit).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;

namespace Condense.Kernels.Elementwise;

/// <summary>σ(x) and x · σ(αx) elementwise.</summary>
internal static class SigmoidKernel
{
    /// <summary>y = σ(x) on the active path; x and y have the same length and may be the same array.</summary>
    public static void Apply(float[] x, float[] y) => ErfKernel.InChunks(x, y, (path, xs, ys) => Run(path, xs, 1f, ys, swish: false));

    /// <summary>y = x · σ(αx) on the active path; x and y have the same length and may be the same array.</summary>
    public static void ApplySwish(float[] x, float alpha, float[] y) => ErfKernel.InChunks(x, y, (path, xs, ys) => Run(path, xs, alpha, ys, swish: true));

    /// <summary>σ(αx), times x when <paramref name="swish"/>, on <paramref name="path"/>, one thread.</summary>
    public static void Run(KernelPath path, ReadOnlySpan<float> x, float alpha, Span<float> y, bool swish)
    {
        int i = 0;
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Create(-alpha);
            for (; i + 16 <= x.Length; i += 16) Lanes(Vector512.Create(x.Slice(i, 16)), a, swish).CopyTo(y.Slice(i, 16));
            if (i == x.Length) return;
            Span<float> padded = stackalloc float[16];
            x[i..].CopyTo(padded);
            Lanes(Vector512.Create(padded), a, swish).CopyTo(padded);
            padded[..(x.Length - i)].CopyTo(y[i..]);
        }
        else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(-alpha);
            for (; i + 8 <= x.Length; i += 8) Lanes(Vector256.Create(x.Slice(i, 8)), a, swish).CopyTo(y.Slice(i, 8));
            if (i == x.Length) return;
            Span<float> padded = stackalloc float[8];
            x[i..].CopyTo(padded);
            Lanes(Vector256.Create(padded), a, swish).CopyTo(padded);
            padded[..(x.Length - i)].CopyTo(y[i..]);
        }
        else
            for (; i < x.Length; i++) y[i] = Reference(x[i], alpha, swish);
    }

    /// <summary>
    /// σ(αx), times x when <paramref name="swish"/>, in double from αx in float (the op's own product; e^(αx) magnifies its
    /// rounding by |αx|): the reference the float paths are checked against.
    /// </summary>
    public static float Reference(float x, float alpha, bool swish)
    {
        double sigmoid = 1 / (1 + Math.Exp(-(double)(alpha * x)));
        return (float)(swish ? x * sigmoid : sigmoid);
    }

    // 16 lanes: (x or 1) / (1 + e^(−αx)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lanes(Vector512<float> x, Vector512<float> minusAlpha, bool swish) =>
        (swish ? x : Vector512<float>.One) / (Vector512<float>.One + ExpKernel.Exp(x * minusAlpha));

    // 8 lanes: the same formula.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Lanes(Vector256<float> x, Vector256<float> minusAlpha, bool swish) =>
        (swish ? x : Vector256<float>.One) / (Vector256<float>.One + ExpKernel.Exp(x * minusAlpha));
}
