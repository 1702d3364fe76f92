// Op names of the math and activation family (Ops/MathOps*): unary math, activations, Hardmax, Mod, BitShift,
// the variadic Min/Max/Sum/Mean and the bitwise ops.
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>Abs: the absolute value.</summary>
    public const string Abs = "Abs";
    /// <summary>Acos: the arccosine.</summary>
    public const string Acos = "Acos";
    /// <summary>Acosh: the inverse hyperbolic cosine.</summary>
    public const string Acosh = "Acosh";
    /// <summary>Asin: the arcsine.</summary>
    public const string Asin = "Asin";
    /// <summary>Asinh: the inverse hyperbolic sine.</summary>
    public const string Asinh = "Asinh";
    /// <summary>Atan: the arctangent.</summary>
    public const string Atan = "Atan";
    /// <summary>Atanh: the inverse hyperbolic tangent.</summary>
    public const string Atanh = "Atanh";
    /// <summary>BitShift: unsigned shifts left or right.</summary>
    public const string BitShift = "BitShift";
    /// <summary>BitwiseAnd: bitwise and of integers.</summary>
    public const string BitwiseAnd = "BitwiseAnd";
    /// <summary>BitwiseNot: bitwise complement of integers.</summary>
    public const string BitwiseNot = "BitwiseNot";
    /// <summary>BitwiseOr: bitwise or of integers.</summary>
    public const string BitwiseOr = "BitwiseOr";
    /// <summary>BitwiseXor: bitwise exclusive or of integers.</summary>
    public const string BitwiseXor = "BitwiseXor";
    /// <summary>Ceil: rounding up.</summary>
    public const string Ceil = "Ceil";
    /// <summary>Celu: max(0, x) + min(0, α(e^(x/α) − 1)).</summary>
    public const string Celu = "Celu";
    /// <summary>Cos: the cosine.</summary>
    public const string Cos = "Cos";
    /// <summary>Cosh: the hyperbolic cosine.</summary>
    public const string Cosh = "Cosh";
    /// <summary>Elu: x, or α(eˣ − 1) below 0.</summary>
    public const string Elu = "Elu";
    /// <summary>Floor: rounding down.</summary>
    public const string Floor = "Floor";
    /// <summary>HardSigmoid: max(0, min(1, α·x + β)).</summary>
    public const string HardSigmoid = "HardSigmoid";
    /// <summary>HardSwish: x · max(0, min(1, x/6 + ½)).</summary>
    public const string HardSwish = "HardSwish";
    /// <summary>Hardmax: 1 at the first largest element along an axis, else 0.</summary>
    public const string Hardmax = "Hardmax";
    /// <summary>IsInf: true where x is infinite (bool), each sign optionally.</summary>
    public const string IsInf = "IsInf";
    /// <summary>IsNaN: true where x is NaN (bool).</summary>
    public const string IsNaN = "IsNaN";
    /// <summary>Max: the elementwise maximum of its inputs, broadcasting.</summary>
    public const string Max = "Max";
    /// <summary>Mean: the elementwise mean of its inputs, broadcasting.</summary>
    public const string Mean = "Mean";
    /// <summary>Min: the elementwise minimum of its inputs, broadcasting.</summary>
    public const string Min = "Min";
    /// <summary>Mish: x · tanh(softplus(x)).</summary>
    public const string Mish = "Mish";
    /// <summary>Swish (opset 24): x · σ(αx), α default 1 (SiLU).</summary>
    public const string Swish = "Swish";
    /// <summary>Mod: the remainder: the divisor's sign, or the dividend's with fmod.</summary>
    public const string Mod = "Mod";
    /// <summary>Neg: the negation.</summary>
    public const string Neg = "Neg";
    /// <summary>PRelu: x, or slope·x below 0, the slope broadcast to x.</summary>
    public const string PRelu = "PRelu";
    /// <summary>Reciprocal: 1 / x.</summary>
    public const string Reciprocal = "Reciprocal";
    /// <summary>Round: rounding to the nearest integer, halves to even.</summary>
    public const string Round = "Round";
    /// <summary>Selu: γ·x, or γ·α(eˣ − 1) at or below 0.</summary>
    public const string Selu = "Selu";
    /// <summary>Shrink: x ± bias beyond ±λ, else 0.</summary>
    public const string Shrink = "Shrink";
    /// <summary>Sign: −1, 0 or 1 by the sign.</summary>
    public const string Sign = "Sign";
    /// <summary>Sin: the sine.</summary>
    public const string Sin = "Sin";
    /// <summary>Sinh: the hyperbolic sine.</summary>
    public const string Sinh = "Sinh";
    /// <summary>Softplus: ln(eˣ + 1).</summary>
    public const string Softplus = "Softplus";
    /// <summary>Softsign: x / (1 + |x|).</summary>
    public const string Softsign = "Softsign";
    /// <summary>Sum: the elementwise sum of its inputs, broadcasting.</summary>
    public const string Sum = "Sum";
    /// <summary>Tan: the tangent.</summary>
    public const string Tan = "Tan";
    /// <summary>ThresholdedRelu: x above α, else 0.</summary>
    public const string ThresholdedRelu = "ThresholdedRelu";
}
