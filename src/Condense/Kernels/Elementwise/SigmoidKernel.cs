// The logistic sigmoid σ(x) = 1 / (1 + e^−x) and Swish x · σ(αx) (SiLU for α = 1; Ramachandran et al. 2017, "Searching for
// Activation Functions") over a span, vectorised. EfficientNet, MobileNetV3's SE gates and YOLO-style detectors spend
// a third of their float time here: .NET's TensorPrimitives.Sigmoid computes float exp through double lanes (~0.4 ns an
// element on one core of the Zen 5 VM); this is ExpKernel's float-lane exp (Cephes expf, ≈ 1 ulp) then one division,
// with the SiLU's product in the same pass so its activations are read once. Swish is written as x / (1 + e^(−αx)): one
// rounding fewer than x · σ(αx), and for large negative x (e^(−αx) = +∞) the quotient is −0 as the limit is, not NaN.
// The reference is the scalar formula in double; the lanes run on LanePass (a ragged end through a padded vector, so
// every element has the lanes' bits); large spans are split between threads (each element is independent).
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;

namespace Condense.Kernels.Elementwise;

/// <summary>σ(x) and x · σ(αx) elementwise.</summary>
internal static class SigmoidKernel
{
    /// <summary>y = σ(x) on the active path; x and y have the same length and may be the same array.</summary>
    public static void Apply(float[] x, float[] y) => LanePass.InChunks(x, y, (path, xs, ys) => Run(path, xs, 1f, ys, swish: false));

    /// <summary>y = x · σ(αx) on the active path; x and y have the same length and may be the same array.</summary>
    public static void ApplySwish(float[] x, float alpha, float[] y) => LanePass.InChunks(x, y, (path, xs, ys) => Run(path, xs, alpha, ys, swish: true));

    /// <summary>σ(αx), times x when <paramref name="swish"/>, on <paramref name="path"/>, one thread.</summary>
    public static void Run(KernelPath path, ReadOnlySpan<float> x, float alpha, Span<float> y, bool swish)
    {
        if (swish) LanePass.Run(new Swish(alpha), path, x, y);
        else LanePass.Run(new Sigmoid(alpha), path, x, y);
    }

    private readonly struct Sigmoid(float alpha) : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + ExpKernel.Exp(x * Vector512.Create(-alpha)));
        public Vector256<float> Apply(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + ExpKernel.Exp(x * Vector256.Create(-alpha)));
        public float Reference(float x) => SigmoidKernel.Reference(x, alpha, swish: false);
    }

    private readonly struct Swish(float alpha) : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) => x / (Vector512<float>.One + ExpKernel.Exp(x * Vector512.Create(-alpha)));
        public Vector256<float> Apply(Vector256<float> x) => x / (Vector256<float>.One + ExpKernel.Exp(x * Vector256.Create(-alpha)));
        public float Reference(float x) => SigmoidKernel.Reference(x, alpha, swish: true);
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
}
