// GELU (Hendrycks & Gimpel 2016; ONNX Gelu-20) over a span in one pass: y = x·½(1 + erf(x/√2)), or the tanh form below.
// BERT-style exports write it as five nodes (Div √2, Erf, Add 1, Mul x, Mul ½), each a pass over the feed-forward
// activations [batch·tokens, 4·hidden]; FloatGraphFusion rewrites them into one Gelu node, which runs here. erf is
// ErfKernel's formula (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e−7) on the same lanes, and the arithmetic is in the
// decomposition's order, so the fused node matches the five it replaces to rounding; a span's ragged end goes through a
// padded vector, so every element has the lanes' bits (those of the GEMM's fused GELU, GemmEpilogue). The reference is
// the scalar loop with erf in double; large spans are split between threads (each element is independent).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>Exact (erf) GELU elementwise.</summary>
internal static class GeluKernel
{
    private const float SqrtTwo = 1.41421356f;

    /// <summary>y = GELU(x) on the active path (split between threads by LanePass.InChunks); x and y have the same length and may be the same array.</summary>
    public static void Apply(float[] x, float[] y) => LanePass.InChunks(x, y, Run);

    /// <summary>y = GELU(x) on <paramref name="path"/>, one thread.</summary>
    public static void Run(KernelPath path, ReadOnlySpan<float> x, Span<float> y) => LanePass.Run(default(Exact), path, x, y);

    private readonly struct Exact : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) => Gelu(x);
        public Vector256<float> Apply(Vector256<float> x) => Gelu(x);
        public float Reference(float x) => GeluKernel.Reference(x);
    }

    /// <summary>GELU on 16 lanes (the Avx512 path's formula).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Gelu(Vector512<float> v) =>
        v * (Vector512<float>.One + (v / Vector512.Create(SqrtTwo)).Erf()) * Vector512.Create(0.5f);

    /// <summary>GELU on 8 lanes (the Avx2 path's formula).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Gelu(Vector256<float> v) =>
        v * (Vector256<float>.One + (v / Vector256.Create(SqrtTwo)).Erf()) * Vector256.Create(0.5f);

    /// <summary>The formula with erf in double: the reference the float paths are checked against.</summary>
    public static float Reference(float x) => x * (1f + ErfKernel.Reference(x / SqrtTwo)) * 0.5f;

    // The tanh form (ONNX Gelu approximate "tanh", GPT-2's gelu_new): ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³) is
    // x · σ(2u) = x / (1 + e^(−2u)), and −2u = x(A + B·x²): one float-lane exp and one division per element.
    private const float TanhA = -1.59576912f, TanhB = -0.0713548162f;

    /// <summary>y = the tanh-approximate GELU of x on the active path (split between threads by LanePass.InChunks); x and y may be the same array.</summary>
    public static void ApplyTanh(float[] x, float[] y) => LanePass.InChunks(x, y, RunTanh);

    /// <summary>The tanh-approximate GELU on <paramref name="path"/>, one thread.</summary>
    public static void RunTanh(KernelPath path, ReadOnlySpan<float> x, Span<float> y) => LanePass.Run(default(Tanh), path, x, y);

    private readonly struct Tanh : ILaneFunction
    {
        public Vector512<float> Apply(Vector512<float> x) => TanhGelu(x);
        public Vector256<float> Apply(Vector256<float> x) => TanhGelu(x);
        public float Reference(float x) => TanhReference(x);
    }

    /// <summary>
    /// ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³), in double as x / (1 + e^(−2u)) (equal; 1 + tanh u cancels for
    /// negative x): the reference of the tanh form's float paths.
    /// </summary>
    public static float TanhReference(float x)
    {
        double v = x;
        return (float)(v / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TanhGelu(Vector512<float> v) =>
        v / (Vector512<float>.One + ExpKernel.Exp(v * Vector512.FusedMultiplyAdd(v * v, Vector512.Create(TanhB), Vector512.Create(TanhA))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> TanhGelu(Vector256<float> v) =>
        v / (Vector256<float>.One + ExpKernel.Exp(v * Vector256.FusedMultiplyAdd(v * v, Vector256.Create(TanhB), Vector256.Create(TanhA))));
}
