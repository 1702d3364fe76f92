// GELU (Hendrycks & Gimpel 2016; ONNX Gelu, opset 20): x·Φ(x) with Φ the standard normal CDF,
// exactly through erf or with the tanh approximation. Gradients: Φ(x) + x·φ(x) for the exact form;
// for the tanh form with u = √(2/π)(x + 0.044715x³), t = tanh u: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
namespace Condense.Tensors;

public partial class Tensor
{
    private const float SqrtTwoOverPi = 0.7978845608f, GeluCubic = 0.044715f;

    /// <summary>GELU: x·Φ(x), or its tanh approximation when <paramref name="tanhApproximation"/>.</summary>
    public Tensor Gelu(bool tanhApproximation = false) => tanhApproximation
        ? Pointwise(
            (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = 0.5f * x[i] * (1f + MathF.Tanh(SqrtTwoOverPi * (x[i] + GeluCubic * x[i] * x[i] * x[i]))); },
            (g, x, _, gx) =>
            {
                for (int i = 0; i < g.Length; i++)
                {
                    float v = x[i], t = MathF.Tanh(SqrtTwoOverPi * (v + GeluCubic * v * v * v));
                    gx[i] = g[i] * (0.5f * (1f + t) + 0.5f * v * (1f - t * t) * SqrtTwoOverPi * (1f + 3f * GeluCubic * v * v));
                }
            })
        : Pointwise(
            (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = 0.5f * x[i] * (1f + Kernels.Transformer.ErfKernel.Reference(x[i] * 0.70710678f)); },
            (g, x, _, gx) =>
            {
                for (int i = 0; i < g.Length; i++)
                {
                    float v = x[i];
                    gx[i] = g[i] * (0.5f * (1f + Kernels.Transformer.ErfKernel.Reference(v * 0.70710678f)) + v * 0.39894228f * MathF.Exp(-0.5f * v * v));
                }
            });
}
