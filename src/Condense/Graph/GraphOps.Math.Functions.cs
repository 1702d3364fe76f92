// The scalar functions of the math and activation ops, as ONNX's docs/Operators.md defines them, with their
// derivatives (in x, or in the output y where that is cheaper) and their integer forms where ONNX allows integers.
using System.Numerics.Tensors;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // Unary math. Ceil, Floor, Round and Sign are piecewise constant: no gradient.
    internal static readonly ScalarFunction AbsFunction = new(Math.Abs, (x, _) => Math.Sign(x),
        (v, t) => t == DataType.UInt64 || v >= 0 ? v : unchecked(-v));
    internal static readonly ScalarFunction NegFunction = new(x => -x, (_, _) => -1, (v, _) => unchecked(-v));
    internal static readonly ScalarFunction SignFunction = new(x => double.IsNaN(x) ? x : Math.Sign(x), null,
        (v, t) => t == DataType.UInt64 ? (v != 0 ? 1 : 0) : Math.Sign(v));
    internal static readonly ScalarFunction CeilFunction = new(Math.Ceiling);
    internal static readonly ScalarFunction FloorFunction = new(Math.Floor);
    internal static readonly ScalarFunction RoundFunction = new(x => Math.Round(x, MidpointRounding.ToEven));
    internal static readonly ScalarFunction ReciprocalFunction = new(x => 1 / x, (_, y) => -y * y);
    internal static readonly ScalarFunction SinFunction = new(Math.Sin, (x, _) => Math.Cos(x));
    internal static readonly ScalarFunction CosFunction = new(Math.Cos, (x, _) => -Math.Sin(x));
    internal static readonly ScalarFunction TanFunction = new(Math.Tan, (_, y) => 1 + y * y);
    internal static readonly ScalarFunction AsinFunction = new(Math.Asin, (x, _) => 1 / Math.Sqrt(1 - x * x));
    internal static readonly ScalarFunction AcosFunction = new(Math.Acos, (x, _) => -1 / Math.Sqrt(1 - x * x));
    internal static readonly ScalarFunction AtanFunction = new(Math.Atan, (x, _) => 1 / (1 + x * x));
    internal static readonly ScalarFunction SinhFunction = new(Math.Sinh, (x, _) => Math.Cosh(x));
    internal static readonly ScalarFunction CoshFunction = new(Math.Cosh, (x, _) => Math.Sinh(x));
    internal static readonly ScalarFunction AsinhFunction = new(Math.Asinh, (x, _) => 1 / Math.Sqrt(x * x + 1));
    internal static readonly ScalarFunction AcoshFunction = new(Math.Acosh, (x, _) => 1 / Math.Sqrt(x * x - 1));
    internal static readonly ScalarFunction AtanhFunction = new(Math.Atanh, (x, _) => 1 / (1 - x * x));
    internal static readonly ScalarFunction BitwiseNotFunction = new(_ => double.NaN, null, (v, _) => ~v);

    // Activations.
    internal static readonly ScalarFunction SoftplusFunction = new(Softplus, (x, _) => 1 / (1 + Math.Exp(-x)));
    internal static readonly ScalarFunction SoftsignFunction = new(x => x / (1 + Math.Abs(x)), (x, _) => 1 / ((1 + Math.Abs(x)) * (1 + Math.Abs(x))));
    internal static readonly ScalarFunction MishFunction = new(x => x * Math.Tanh(Softplus(x)), (x, _) =>
    {
        double t = Math.Tanh(Softplus(x));
        return t + x * (1 - t * t) / (1 + Math.Exp(-x));
    });
    internal static readonly ScalarFunction HardSwishFunction = new(x => x * Math.Max(0, Math.Min(1, x / 6 + 0.5)),
        (x, _) => x < -3 ? 0 : x > 3 ? 1 : x / 3 + 0.5)
    {
        // In float at inference: x · HardSigmoid(x) with α = 1/6 as a float (what a hard-swish exported before opset 14 computes).
        Float32Inference = (x, y) => Kernels.Elementwise.HardSigmoidKernel.ApplySwish(x, 1f / 6, 0.5f, y),
    };

    // ln(1 + eˣ) without overflow for large x.
    private static double Softplus(double x) => x > 0 ? x + double.LogP1(Math.Exp(-x)) : double.LogP1(Math.Exp(x));

    // Swish: x · σ(αx) (default α 1, SiLU); dy/dx = σ(αx) + αx · σ(αx)(1 − σ(αx)).
    internal static ScalarFunction SwishFunction(Node node)
    {
        double alpha = node.Float("alpha", 1f);
        return new(x => x / (1 + Math.Exp(-alpha * x)), (x, _) =>
        {
            double s = 1 / (1 + Math.Exp(-alpha * x));
            return s + alpha * x * s * (1 - s);
        })
        {
            Float32Inference = (x, y) => Kernels.Elementwise.SigmoidKernel.ApplySwish(x, (float)alpha, y),
        };
    }

    // Elu: x, or α(eˣ − 1) below 0 (default α 1).
    internal static ScalarFunction EluFunction(Node node)
    {
        double alpha = node.Float("alpha", 1f);
        return new(x => x < 0 ? alpha * (Math.Exp(x) - 1) : x, (x, y) => x < 0 ? y + alpha : 1);
    }

    // Selu: γ·x above 0, γ·(α·eˣ − α) at or below (defaults from the self-normalizing networks paper, as float32).
    internal static ScalarFunction SeluFunction(Node node)
    {
        double alpha = node.Float("alpha", 1.67326319217681884765625f), gamma = node.Float("gamma", 1.05070102214813232421875f);
        return new(x => x <= 0 ? gamma * (alpha * Math.Exp(x) - alpha) : gamma * x, (x, _) => x <= 0 ? gamma * alpha * Math.Exp(x) : gamma);
    }

    // Celu: max(0, x) + min(0, α(e^(x/α) − 1)) (default α 1).
    internal static ScalarFunction CeluFunction(Node node)
    {
        double alpha = node.Float("alpha", 1f);
        return new(x => Math.Max(0, x) + Math.Min(0, alpha * (Math.Exp(x / alpha) - 1)), (x, _) => x < 0 ? Math.Exp(x / alpha) : 1);
    }

    // ThresholdedRelu: x above α, else 0 (default α 1).
    internal static ScalarFunction ThresholdedReluFunction(Node node)
    {
        double alpha = node.Float("alpha", 1f);
        return new(x => x > alpha ? x : 0, (x, _) => x > alpha ? 1 : 0);
    }

    // HardSigmoid: max(0, min(1, α·x + β)) (defaults α 0.2, β 0.5).
    internal static ScalarFunction HardSigmoidFunction(Node node)
    {
        double alpha = node.Float("alpha", 0.2f), beta = node.Float("beta", 0.5f);
        return new(x => Math.Max(0, Math.Min(1, alpha * x + beta)), (x, _) => alpha * x + beta is > 0 and < 1 ? alpha : 0)
        {
            Float32Inference = (x, y) => Kernels.Elementwise.HardSigmoidKernel.Apply(x, (float)alpha, (float)beta, y),
        };
    }

    // Shrink: x + bias below −λ, x − bias above λ, else 0 (defaults bias 0, λ 0.5); integers truncate the float result.
    internal static ScalarFunction ShrinkFunction(Node node)
    {
        double bias = node.Float("bias", 0f), lambd = node.Float("lambd", 0.5f);
        double F(double x) => x < -lambd ? x + bias : x > lambd ? x - bias : 0;
        return new(F, (x, _) => x < -lambd || x > lambd ? 1 : 0,
            (v, t) => (long)Math.Truncate(F(t == DataType.UInt64 ? (ulong)v : v)));
    }

    // IsInf: infinities of the signs detect_positive and detect_negative select (both by default).
    internal static Func<double, bool> IsInfTest(Node node)
    {
        bool positive = node.Int("detect_positive", 1) != 0, negative = node.Int("detect_negative", 1) != 0;
        return x => positive && double.IsPositiveInfinity(x) || negative && double.IsNegativeInfinity(x);
    }
}
