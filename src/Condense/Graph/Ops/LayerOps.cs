// The layers' ops: Gemm, MatMul (Linear) and Einsum, Conv, batch norm and pooling. Conv's and pooling's attribute
// handling (auto_pad, 1-D as 2-D, ceil mode, indices) is in Graph/GraphOps.Conv.cs and GraphOps.Pool.cs.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class LayerOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.Gemm, (n, x, _) => [Tensor.Gemm(Required(n, x, 0), Required(n, x, 1), Optional(x, 2),
            n.Float("alpha", 1f), n.Float("beta", 1f), n.Int("transA", 0) != 0, n.Int("transB", 0) != 0)], OpGradient.Autograd, OpExport.AsIs)
            { Upgrade = OpsetUpgrades.GemmBroadcast },
        new(OpTypes.MatMul, (n, x, _) => [Required(n, x, 0).MatMul(Required(n, x, 1))], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.Einsum, (n, x, _) => [Einsum(n, x)], OpGradient.Autograd, OpExport.AsIs) { Since = 12, Types = TypeSets.Numeric },
        new(OpTypes.Conv, (n, x, _) => [Conv(n, x)], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.ConvTranspose, (n, x, _) => [ConvTranspose(n, x)], OpGradient.Autograd, OpExport.AsIs),
        // The training form (training_mode, running-statistic outputs) runs but cannot be exported at opset 13.
        new(OpTypes.BatchNormalization, BatchNormalization, OpGradient.Autograd, OpExport.AsIs) { Upgrade = OpsetUpgrades.BatchNormIsTest },
        new(OpTypes.MaxPool, SmallIntegersViaFloat((n, x, _) => MaxPool(n, x)), OpGradient.Autograd, OpExport.AsIs) { Types = SmallIntegers },
        new(OpTypes.AveragePool, (n, x, _) => [AveragePool(n, x)], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.GlobalAveragePool, (n, x, _) => [Required(n, x, 0).GlobalAvgPool()], OpGradient.Autograd, OpExport.AsIs),
        new(OpTypes.GlobalMaxPool, (n, x, _) => [Required(n, x, 0).GlobalMaxPool()], OpGradient.Autograd, OpExport.AsIs),
    ];
}
