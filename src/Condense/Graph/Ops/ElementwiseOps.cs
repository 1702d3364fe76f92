// Elementwise ops: arithmetic with broadcasting (B of opset 1–6's broadcast-at-axis form aligned by
// GraphOps.Second), activations, softmax along an axis, Identity and Dropout.
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
        new(OpTypes.Pow, (n, x, _) => [Pow(n, x)], OpGradient.Autograd, OpExport.None) { Upgrade = OpsetUpgrades.AxisBroadcast, Types = TypeSets.Numeric },
        new(OpTypes.Relu, (n, x, _) => [Required(n, x, 0).Relu()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.LeakyRelu, (n, x, _) => [Required(n, x, 0).LeakyRelu(n.Float("alpha", 0.01f))], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Sigmoid, (n, x, _) => [Required(n, x, 0).Sigmoid()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Tanh, (n, x, _) => [Required(n, x, 0).Tanh()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Exp, (n, x, _) => [Required(n, x, 0).Exp()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Log, (n, x, _) => [Required(n, x, 0).Log()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Sqrt, (n, x, _) => [Required(n, x, 0).Sqrt()], OpGradient.Autograd, OpExport.None),
        new(OpTypes.Erf, (n, x, _) => [Erf(Required(n, x, 0))], OpGradient.Autograd, OpExport.None) { Since = 9 },
        new(OpTypes.Gelu, (n, x, _) => [Required(n, x, 0).Gelu(n.Attributes.TryGetValue("approximate", out var a) && a.StringValue == "tanh")],
            OpGradient.Autograd, OpExport.None) { Since = 20 },
        new(OpTypes.Clip, (n, x, _) => [Clip(n, x)], OpGradient.Autograd, OpExport.None) { Types = TypeSets.Numeric },
        new(OpTypes.Softmax, (n, x, _) => [Required(n, x, 0).Softmax((int)n.Int("axis", -1))], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.CoercedSoftmax },
        new(OpTypes.LogSoftmax, (n, x, _) => [Required(n, x, 0).LogSoftmax((int)n.Int("axis", -1))], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.CoercedSoftmax },
        new(OpTypes.Identity, (n, x, _) => [Required(n, x, 0)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.Dropout, Dropout, OpGradient.Autograd, OpExport.Rewritten) { Upgrade = OpsetUpgrades.DropoutIsTest, Types = TypeSets.All },
    ];
}
