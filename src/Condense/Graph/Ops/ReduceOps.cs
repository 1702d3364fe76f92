// Reductions along axes (from the attribute or, in newer opsets, an input), with keepdims (GraphOps.Reduce.cs).
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ReduceOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.ReduceMean, (n, x, _) => [ReduceMean(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.ReduceSum, (n, x, _) => [ReduceSum(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.ReduceSumSquare, (n, x, _) => [ReduceSumSquare(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.ReduceMax, (n, x, _) => [ReduceMax(n, x)], OpGradient.Autograd, OpExport.None),
        new(OpTypes.ReduceMin, (n, x, _) => [ReduceMin(n, x)], OpGradient.Autograd, OpExport.None),
    ];
}
