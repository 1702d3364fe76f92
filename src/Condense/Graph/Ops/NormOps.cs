// The normalization family: LayerNormalization, RMSNormalization, MeanVarianceNormalization, InstanceNormalization and LRN. Float32 is
// built from autograd tensor ops (Graph/GraphOps.Norm.cs), so each trains; float16, bfloat16 and float64 run the same
// formulas in double without gradients (GraphOps.Norm.Typed.cs), rounded once to their type.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class NormOps
{
    private static readonly IReadOnlySet<DataType> Floats = new HashSet<DataType> { DataType.Float32, DataType.Float16, DataType.BFloat16, DataType.Float64 };

    // InstanceNormalization's T has no bfloat16 (opset 6 onwards, as of opset 22).
    private static readonly IReadOnlySet<DataType> InstanceFloats = new HashSet<DataType> { DataType.Float32, DataType.Float16, DataType.Float64 };

    public static OpDef[] Defs =>
    [
        new(OpTypes.LayerNormalization, (n, x, _) => LayerNormalization(n, x), OpGradient.Autograd, OpExport.AsIs) { Since = 17, Types = Floats },
        new(OpTypes.MeanVarianceNormalization, (n, x, _) => [MeanVarianceNormalization(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 9, Types = Floats },
        new(OpTypes.InstanceNormalization, (n, x, _) => [InstanceNormalization(n, x)], OpGradient.Autograd, OpExport.AsIs)
            { Since = 6, Types = InstanceFloats },
        new(OpTypes.LRN, (n, x, _) => [Lrn(n, x)], OpGradient.Autograd, OpExport.AsIs) { Types = Floats },
        new(OpTypes.RMSNormalization, (n, x, _) => [RmsNormalization(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 23, Types = Floats },
    ];
}
