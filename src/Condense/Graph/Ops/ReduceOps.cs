// Reductions along axes (from the attribute or, in newer opsets, an input), with keepdims (GraphOps.Reduce.cs).
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ReduceOps
{
    // Opset 13 (ReduceSum) and 18 (the rest) move axes from an attribute to input 1, an int64 tensor.
    private static readonly HashSet<int> AxesInput = [1];

    public static OpDef[] Defs =>
    [
        new(OpTypes.ReduceMean, (n, x, _) => [ReduceMean(n, x)], OpGradient.Autograd, OpExport.None) { IntegerInputs = AxesInput },
        new(OpTypes.ReduceSum, (n, x, _) => [ReduceSum(n, x)], OpGradient.Autograd, OpExport.None) { IntegerInputs = AxesInput },
        new(OpTypes.ReduceSumSquare, (n, x, _) => [ReduceSumSquare(n, x)], OpGradient.Autograd, OpExport.None) { IntegerInputs = AxesInput },
        new(OpTypes.ReduceMax, (n, x, _) => [ReduceMax(n, x)], OpGradient.Autograd, OpExport.None) { IntegerInputs = AxesInput },
        new(OpTypes.ReduceMin, (n, x, _) => [ReduceMin(n, x)], OpGradient.Autograd, OpExport.None) { IntegerInputs = AxesInput },
    ];
}
