// Resampling: Resize (opset 10 on; nearest for every type, linear and cubic for floats) and the Upsample it replaced
// (opsets 7 and 9). Float32 trains through Tensor.Resample's gradient; the attribute handling is GraphOps.Resize.cs.
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class ResizeOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.Resize, (n, x, _) => [Resize(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 10, Types = TypeSets.All, IntegerInputs = new HashSet<int> { 3 } },
        new(OpTypes.Upsample, (n, x, _) => [Resize(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 7, Types = TypeSets.All },
    ];
}
