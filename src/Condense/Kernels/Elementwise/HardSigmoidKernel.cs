// HardSigmoid max(0, min(1, αx + β)) and hard-swish x · HardSigmoid(x) (Howard et al. 2019, "Searching for MobileNetV3",
// with α = 1/6, β = 1/2) over a span in one pass. They ran as four TensorPrimitives passes (product, sum, min, max) and,
// for hard-swish, a fifth (the product by x), each reading and writing the whole activation: MobileNetV3's gates and
// activations. The lanes compute the same operations in the same order — the product and the sum rounded separately (no
// fused multiply-add), then IEEE min and max — so they give the passes' bits; the scalar formula in float is the reference.
// Large spans are split between threads (LanePass.InChunks; each element is independent).
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Elementwise;

/// <summary>max(0, min(1, αx + β)) and x · max(0, min(1, αx + β)) elementwise.</summary>
internal static class HardSigmoidKernel
{
    /// <summary>y = max(0, min(1, αx + β)) on the active path; x and y have the same length and may be the same array.</summary>
    public static void Apply(float[] x, float alpha, float beta, float[] y) =>
        LanePass.InChunks(x, y, (path, xs, ys) => Run(path, xs, alpha, beta, ys, swish: false));

    /// <summary>y = x · max(0, min(1, αx + β)) on the active path; x and y have the same length and may be the same array.</summary>
    public static void ApplySwish(float[] x, float alpha, float beta, float[] y) =>
        LanePass.InChunks(x, y, (path, xs, ys) => Run(path, xs, alpha, beta, ys, swish: true));

    /// <summary>The gate, times x when <paramref name="swish"/>, on <paramref name="path"/>, one thread.</summary>
    public static void Run(KernelPath path, ReadOnlySpan<float> x, float alpha, float beta, Span<float> y, bool swish)
    {
        if (swish) LanePass.Run(new Swish(alpha, beta), path, x, y);
        else LanePass.Run(new Gate(alpha, beta), path, x, y);
    }

    /// <summary>The reference: max(0, min(1, αx + β)) (times x when <paramref name="swish"/>) in float, one rounding per operation.</summary>
    public static float Reference(float x, float alpha, float beta, bool swish)
    {
        float product = x * alpha;
        float gate = MathF.Max(MathF.Min(product + beta, 1f), 0f);
        return swish ? x * gate : gate;
    }

    private readonly struct Gate(float alpha, float beta) : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) =>
            Vector512.Max(Vector512.Min(x * Vector512.Create(alpha) + Vector512.Create(beta), Vector512<float>.One), Vector512<float>.Zero);
        public Vector256<float> Apply(Vector256<float> x) =>
            Vector256.Max(Vector256.Min(x * Vector256.Create(alpha) + Vector256.Create(beta), Vector256<float>.One), Vector256<float>.Zero);
        public float Reference(float x) => HardSigmoidKernel.Reference(x, alpha, beta, swish: false);
    }

    private readonly struct Swish(float alpha, float beta) : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) => x * new Gate(alpha, beta).Apply(x);
        public Vector256<float> Apply(Vector256<float> x) => x * new Gate(alpha, beta).Apply(x);
        public float Reference(float x) => HardSigmoidKernel.Reference(x, alpha, beta, swish: true);
    }
}
