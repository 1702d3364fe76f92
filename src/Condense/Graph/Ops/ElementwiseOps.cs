// Elementwise ops: arithmetic with broadcasting (B of opset 1–6's broadcast-at-axis form aligned by
// GraphOps.Second), activations (Gelu and Sigmoid at inference on the one-pass kernels their ScalarFunction names),
// softmax along an axis, Identity and Dropout. Every op exports as it is.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ElementwiseOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.Add, (n, x, _) => [Arithmetic(n, x, (a, b) => a.Add(b), TypedOps.Add)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        new(OpTypes.Sub, (n, x, _) => [Arithmetic(n, x, (a, b) => a.Sub(b), TypedOps.Sub)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        new(OpTypes.Mul, (n, x, _) => [Arithmetic(n, x, (a, b) => a.Mul(b), TypedOps.Mul)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        new(OpTypes.Div, (n, x, _) => [Arithmetic(n, x, (a, b) => a.Div(b), TypedOps.Div)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        new(OpTypes.Pow, (n, x, _) => [Pow(n, x)], OpGradient.Autograd, OpExport.AsIs) { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        // Float32 through the vectorized autograd kernels; float16, bfloat16, float64 (and integers for Relu) typed.
        new(OpTypes.Relu, (n, x, _) => [Elementwise(n, x, t => t.Relu(), ReluFunction)], OpGradient.Autograd, OpExport.AsIs) { Types = MathOps.Signed },
        new(OpTypes.LeakyRelu, (n, x, _) => [Elementwise(n, x, t => t.LeakyRelu(n.Float("alpha", 0.01f)), LeakyReluFunction(n.Float("alpha", 0.01f)))],
            OpGradient.Autograd, OpExport.AsIs) { Types = MathOps.Floats },
        FloatOp(OpTypes.Sigmoid, t => t.Sigmoid(), SigmoidFunction),
        FloatOp(OpTypes.Tanh, t => t.Tanh(), TanhFunction),
        FloatOp(OpTypes.Exp, t => t.Exp(), ExpFunction),
        FloatOp(OpTypes.Log, t => t.Log(), LogFunction),
        FloatOp(OpTypes.Sqrt, t => t.Sqrt(), SqrtFunction),
        FloatOp(OpTypes.Erf, t => t.Erf(), ErfFunction, since: 9),
        new(OpTypes.Gelu, (n, x, _) => [Elementwise(n, x, t => t.Gelu(TanhGelu(n)), GeluFunction(TanhGelu(n)))], OpGradient.Autograd, OpExport.AsIs)
            { Since = 20, Types = MathOps.Floats },
        new(OpTypes.Clip, (n, x, _) => [Clip(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.Numeric },
        new(OpTypes.Softmax, (n, x, _) => [SoftmaxFamily(n, x, log: false)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.CoercedSoftmax, Types = MathOps.Floats },
        new(OpTypes.LogSoftmax, (n, x, _) => [SoftmaxFamily(n, x, log: true)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.CoercedSoftmax, Types = MathOps.Floats },
        new(OpTypes.Identity, (n, x, _) => [Required(n, x, 0)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.Dropout, Dropout, OpGradient.Autograd, OpExport.Rewritten) { Upgrade = OpsetUpgrades.DropoutIsTest, Types = TypeSets.All },
    ];

    private static OpDef FloatOp(string name, Func<Tensor, Tensor> float32, ScalarFunction typed, int since = 1) =>
        new(name, (n, x, _) => [Elementwise(n, x, float32, typed)], OpGradient.Autograd, OpExport.AsIs) { Since = since, Types = MathOps.Floats };

    private static bool TanhGelu(Node node) => node.Attributes.TryGetValue("approximate", out var a) && a.StringValue == "tanh";
}
