// Ops that move or pick elements by index, for every element type: each computes, for every output element, the
// flat index of the input element it copies (Tensors/IndexMaps) and Tensor.Take copies them, so float32 gets the
// scatter-add gradient with no code of its own. ONNX details in GraphOps.Index*.cs.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class IndexOps
{
    // Starts, ends, axes and steps (opset 10+) are int32 or int64 inputs.
    private static readonly HashSet<int> SliceParameters = [1, 2, 3, 4];

    // Parameters of one input: Split's sizes, Tile's repeats, Trilu's k, the gathers' and scatters' indices.
    private static readonly HashSet<int> Second = [1];

    // Range runs on the types ONNX defines it for.
    private static readonly HashSet<DataType> RangeTypes = [DataType.Float32, DataType.Float64, DataType.Int16, DataType.Int32, DataType.Int64];

    public static OpDef[] Defs =>
    [
        new(OpTypes.Slice, (n, x, _) => [Slice(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = SliceParameters },
        new(OpTypes.Split, (n, x, _) => Split(n, x), OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Tile, (n, x, _) => [Tile(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 6, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.Range, (n, x, _) => [Range(n, x)], OpGradient.None, OpExport.AsIs) { Since = 11, Types = RangeTypes },
        new(OpTypes.Trilu, (n, x, _) => [Trilu(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 14, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.GatherElements, (n, x, _) => [GatherElements(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 11, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.GatherND, (n, x, _) => [GatherND(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 11, Types = TypeSets.All, IntegerInputs = Second },
        // Float32 trains through reduction none and add; mul, max and min refuse to record a gradient (Tensors/Ops.Scatter.cs).
        new(OpTypes.ScatterElements, (n, x, _) => [ScatterElements(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 11, Types = TypeSets.All, IntegerInputs = Second },
        // Scatter (opsets 9–10, deprecated in 11) is ScatterElements without the reduction attribute.
        new(OpTypes.Scatter, (n, x, _) => [ScatterElements(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 9, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.ScatterND, (n, x, _) => [ScatterND(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 11, Types = TypeSets.All, IntegerInputs = Second },
        new(OpTypes.OneHot, (n, x, _) => [OneHot(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 9, Types = TypeSets.All },
        new(OpTypes.ArgMax, (n, x, _) => [ArgExtreme(n, x, largest: true)], OpGradient.None, OpExport.AsIs) { Types = TypeSets.Numeric },
        new(OpTypes.ArgMin, (n, x, _) => [ArgExtreme(n, x, largest: false)], OpGradient.None, OpExport.AsIs) { Types = TypeSets.Numeric },
        // The values are a Take of the input (with its gradient); the indices are int64.
        new(OpTypes.TopK, (n, x, _) => TopK(n, x), OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.Numeric, IntegerInputs = Second },
        // Float32 to float32 passes the gradient, as Cast does.
        new(OpTypes.CastLike, (n, x, _) => [CastLike(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 15, Types = TypeSets.All },
        new(OpTypes.Size, (n, x, _) => [SizeOf(n, x)], OpGradient.None, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.EyeLike, (n, x, _) => [EyeLike(n, x)], OpGradient.None, OpExport.AsIs) { Since = 9, Types = TypeSets.All },
        new(OpTypes.NonZero, (n, x, _) => [NonZero(n, x)], OpGradient.None, OpExport.AsIs) { Since = 9, Types = TypeSets.All },
        new(OpTypes.Compress, (n, x, _) => [Compress(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 9, Types = TypeSets.All },
        // The unique values are a Take of the input (with its gradient); indices, inverse indices and counts are int64.
        new(OpTypes.Unique, (n, x, _) => Unique(n, x), OpGradient.Autograd, OpExport.AsIs) { Since = 11, Types = TypeSets.All },
        new(OpTypes.DepthToSpace, (n, x, _) => [DepthToSpace(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.SpaceToDepth, (n, x, _) => [SpaceToDepth(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.CumSum, (n, x, _) => [CumSum(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 11, Types = TypeSets.Numeric, IntegerInputs = Second },
    ];
}
