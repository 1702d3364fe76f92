// The activations of the math family, and its binary and variadic ops: Mod, BitShift, Min/Max/Sum/Mean (any number of
// inputs, broadcasting) and the bitwise ops. Functions and attribute handling are in Graph/GraphOps.Math*.cs.
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static partial class MathOps
{
    private static OpDef[] ActivationDefs =>
    [
        Unary(OpTypes.Elu, EluFunction),
        Unary(OpTypes.Selu, SeluFunction),
        Unary(OpTypes.Celu, CeluFunction, since: 12),
        Unary(OpTypes.ThresholdedRelu, ThresholdedReluFunction, since: 10),
        Unary(OpTypes.HardSigmoid, HardSigmoidFunction),
        Unary(OpTypes.HardSwish, HardSwishFunction, since: 14),
        Unary(OpTypes.Softplus, SoftplusFunction),
        Unary(OpTypes.Softsign, SoftsignFunction),
        Unary(OpTypes.Mish, MishFunction, since: 18),
        Unary(OpTypes.Swish, SwishFunction, since: 24),
        Unary(OpTypes.Shrink, ShrinkFunction, TypeSets.Numeric, since: 9),
        // Opsets 1–6 broadcast the slope another way (per channel): refused there rather than guessed.
        new(OpTypes.PRelu, (n, x, _) => [PRelu(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 7, Types = PReluTypes },
        // Before opset 13 the input is coerced to 2-D at axis, as for Softmax (OpsetUpgrades.CoercedSoftmax).
        new(OpTypes.Hardmax, (n, x, _) => [Hardmax(n, x)], OpGradient.None, OpExport.AsIs) { Upgrade = OpsetUpgrades.CoercedSoftmax, Types = Floats },
    ];

    private static OpDef[] BinaryDefs =>
    [
        new(OpTypes.Mod, (n, x, _) => [Mod(n, x)], OpGradient.None, OpExport.AsIs) { Since = 10, Types = TypeSets.Numeric },
        new(OpTypes.BitShift, (n, x, _) => [BitShift(n, x)], OpGradient.None, OpExport.AsIs) { Since = 11, Types = Unsigned },
        // Opsets 1–7 require equal shapes, which broadcasting computes alike.
        new(OpTypes.Min, (n, x, _) => [Variadic(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.Numeric },
        new(OpTypes.Max, (n, x, _) => [Variadic(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.Numeric },
        new(OpTypes.Sum, (n, x, _) => [Variadic(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = Floats },
        new(OpTypes.Mean, (n, x, _) => [Variadic(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = Floats },
        new(OpTypes.BitwiseAnd, (n, x, _) => [Bitwise(n, x)], OpGradient.None, OpExport.AsIs) { Since = 18, Types = Integers },
        new(OpTypes.BitwiseOr, (n, x, _) => [Bitwise(n, x)], OpGradient.None, OpExport.AsIs) { Since = 18, Types = Integers },
        new(OpTypes.BitwiseXor, (n, x, _) => [Bitwise(n, x)], OpGradient.None, OpExport.AsIs) { Since = 18, Types = Integers },
    ];
}
