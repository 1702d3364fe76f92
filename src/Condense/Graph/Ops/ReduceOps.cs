// Reductions along axes (from the attribute or, in newer opsets, an input), with keepdims (GraphOps.Reduce.cs).
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ReduceOps
{
    // Opset 13 (ReduceSum) and 18 (the rest) move axes from an attribute to input 1, an int64 tensor.
    private static readonly HashSet<int> AxesInput = [1];

    // ONNX's reductions take the float types and int32/int64/uint32/uint64 (ReduceMax/Min also 8-bit); a logarithm
    // or square root of an integer is truncated back to it.
    private static readonly IReadOnlySet<DataType> Numeric = TypeSets.Numeric;

    public static OpDef[] Defs =>
    [
        Entry(OpTypes.ReduceSum, ReduceSum, OpGradient.Autograd),
        Entry(OpTypes.ReduceMean, ReduceMean, OpGradient.Autograd),
        Entry(OpTypes.ReduceMax, ReduceMax, OpGradient.Autograd),
        Entry(OpTypes.ReduceMin, ReduceMin, OpGradient.Autograd),
        Entry(OpTypes.ReduceProd, ReduceProd, OpGradient.None),
        Entry(OpTypes.ReduceSumSquare, ReduceSumSquare, OpGradient.Autograd),
        Entry(OpTypes.ReduceL1, ReduceL1, OpGradient.Autograd),
        Entry(OpTypes.ReduceL2, ReduceL2, OpGradient.Autograd),
        Entry(OpTypes.ReduceLogSum, ReduceLogSum, OpGradient.Autograd),
        Entry(OpTypes.ReduceLogSumExp, ReduceLogSumExp, OpGradient.Autograd),
    ];

    private static OpDef Entry(string name, Func<Node, Tensor?[], Tensor> reduce, OpGradient gradient) =>
        new(name, (n, x, _) => [reduce(n, x)], gradient, OpExport.AsIs) { IntegerInputs = AxesInput, Types = Numeric };
}
