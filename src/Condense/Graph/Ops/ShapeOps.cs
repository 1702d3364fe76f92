// Ops that move, select or describe data: reshaping, the shape arithmetic exporters write for dynamic batches
// (Shape → Gather → Unsqueeze → Concat → Reshape; shapes and indices are int64 tensors), Cast,
// padding and constants. Their ONNX details are in GraphOps.Onnx.cs and GraphOps.Tensors.cs.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ShapeOps
{
    // The integer inputs (shapes, axes, indices, pads): the exporter writes them as int64 when a graph holds them as float32.
    private static readonly HashSet<int> First = [0], Second = [1], PadsAndAxes = [1, 3];

    public static OpDef[] Defs =>
    [
        new(OpTypes.Flatten, (n, x, _) => [Required(n, x, 0).Flatten((int)n.Int("axis", 1))], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        // The exporter writes the shape initializer as int64, as ONNX reads it.
        new(OpTypes.Reshape, (n, x, _) => [Reshape(Required(n, x, 0), Required(n, x, 1), n.Int("allowzero", 0) != 0)], OpGradient.Autograd, OpExport.Rewritten)
            { Upgrade = OpsetUpgrades.ReshapeAttribute, Types = TypeSets.All },
        new(OpTypes.Transpose, (n, x, _) => [Transpose(n, Required(n, x, 0))], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.Shape, (n, x, _) => [ShapeOf(n, Required(n, x, 0))], OpGradient.None, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.Gather, (n, x, _) => [Gather(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Unsqueeze, (n, x, _) => [Unsqueeze(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Squeeze, (n, x, _) => [Squeeze(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Concat, (n, x, _) => [Tensor.Concat(x.Select((t, i) => t ?? Required(n, x, i)).ToArray(), (int)n.Int("axis", 0))],
            OpGradient.Autograd, OpExport.AsIs) { Upgrade = OpsetUpgrades.ConcatAxis, Types = TypeSets.All },
        // Float32 to float32 passes the gradient; a cast that changes the type has none (Tensors/Ops.Cast.cs).
        new(OpTypes.Cast, (n, x, _) => [Cast(n, Required(n, x, 0))], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.CastTypeName, Types = TypeSets.All },
        new(OpTypes.ConstantOfShape, (n, x, _) => [ConstantOfShape(n, Required(n, x, 0))], OpGradient.None, OpExport.AsIs)
            { Since = 9, Types = TypeSets.All, IntegerInputs = First },
        new(OpTypes.Expand, (n, x, _) => [Expand(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 8, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Pad, (n, x, _) => [Pad(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.PadPaddings, Types = TypeSets.All, IntegerInputs = PadsAndAxes },
        new(OpTypes.Constant, null, OpGradient.None, OpExport.None) { Import = OpImport.Initializer },
    ];
}
