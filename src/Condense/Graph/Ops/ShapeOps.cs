// Ops that move, select or describe data: reshaping, the shape arithmetic exporters write for dynamic batches
// (Shape → Gather → Unsqueeze → Concat → Reshape; shapes and indices are float tensors holding integers), Cast,
// padding and constants. Their ONNX details are in GraphOps.Onnx.cs and GraphOps.Tensors.cs.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ShapeOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.Flatten, (n, x, _) => [Required(n, x, 0).Flatten((int)n.Int("axis", 1))], OpGradient.Autograd, OpExport.AsIs),
        // The exporter writes the shape initializer as int64, as ONNX reads it.
        new(OpTypes.Reshape, (n, x, _) => [Reshape(Required(n, x, 0), Required(n, x, 1), n.Int("allowzero", 0) != 0)], OpGradient.Autograd, OpExport.Rewritten)
            { Upgrade = OpsetUpgrades.ReshapeAttribute },
        new(OpTypes.Transpose, (n, x, _) => [Transpose(n, Required(n, x, 0))], OpGradient.Autograd, OpExport.None),
        new(OpTypes.Shape, (n, x, _) => [ShapeOf(n, Required(n, x, 0))], OpGradient.None, OpExport.None),
        new(OpTypes.Gather, (n, x, _) => [Required(n, x, 0).Gather(Required(n, x, 1), (int)n.Int("axis", 0))], OpGradient.Autograd, OpExport.None),
        new(OpTypes.Unsqueeze, (n, x, _) => [Unsqueeze(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.Squeeze, (n, x, _) => [Squeeze(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.Concat, (n, x, _) => [Tensor.Concat(x.Select((t, i) => t ?? Required(n, x, i)).ToArray(), (int)n.Int("axis", 0))],
            OpGradient.Autograd, OpExport.None) { Upgrade = OpsetUpgrades.ConcatAxis },
        // To a float type the gradient flows (straight through float16/bfloat16 rounding); to an integer type there is none.
        new(OpTypes.Cast, (n, x, _) => [Cast(n, Required(n, x, 0))], OpGradient.Autograd, OpExport.AsIs) { Upgrade = OpsetUpgrades.CastTypeName },
        new(OpTypes.ConstantOfShape, (n, x, _) => [ConstantOfShape(n, Required(n, x, 0))], OpGradient.None, OpExport.None) { Since = 9 },
        new(OpTypes.Expand, (n, x, _) => [Expand(n, x)], OpGradient.Autograd, OpExport.None) { Since = 8 },
        new(OpTypes.Pad, (n, x, _) => [Pad(n, x)], OpGradient.Autograd, OpExport.None) { Upgrade = OpsetUpgrades.PadPaddings },
        new(OpTypes.Constant, null, OpGradient.None, OpExport.None) { Import = OpImport.Initializer },
    ];
}
