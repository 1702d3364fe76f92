// The engine's fused transformer ops (Graph/GraphOps.Attention.cs), which Inference/AttentionFusion makes of the node
// chains a BERT-style export writes: never imported. FusedAttention runs inference only and is not exported (no ONNX
// op has its head-split layout); SkipLayerNormalization is ONNX Runtime's com.microsoft op of that name (its first four
// inputs) and trains through the Add and LayerNormalization it stands for. FusedGemm (Gemm and the ReLU or GELU after
// it, Graph/GraphOps.FusedGemm.cs) trains through the two ops; it is not exported (com.microsoft's has no GELU).
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class FusedOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.FusedAttention, (n, x, _) => [FusedAttention(n, x)], OpGradient.None, OpExport.None) { Import = OpImport.EngineOnly },
        new(OpTypes.SkipLayerNormalization, (n, x, _) => [SkipLayerNormalization(n, x)], OpGradient.Autograd, OpExport.ContribDomain)
            { Import = OpImport.EngineOnly, Types = MathOps.Floats },
        new(OpTypes.FusedGemm, (n, x, _) => [FusedGemm(n, x)], OpGradient.Autograd, OpExport.None) { Import = OpImport.EngineOnly },
    ];
}
