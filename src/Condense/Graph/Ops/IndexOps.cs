// Ops that move or pick elements by index, for every element type: each computes, for every output element, the
// flat index of the input element it copies (Tensors/IndexMaps) and Tensor.Take copies them, so float32 gets the
// scatter-add gradient with no code of its own. ONNX details in GraphOps.Index*.cs.
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class IndexOps
{
    // Starts, ends, axes and steps (opset 10+) are int32 or int64 inputs.
    private static readonly HashSet<int> SliceParameters = [1, 2, 3, 4];

    public static OpDef[] Defs =>
    [
        new(OpTypes.Slice, (n, x, _) => [Slice(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = TypeSets.All, IntegerInputs = SliceParameters },
    ];
}
