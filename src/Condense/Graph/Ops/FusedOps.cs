// The engine's fused transformer ops (Graph/GraphOps.Attention.cs), which Inference/AttentionFusion makes of the node
// chains a BERT-style export writes: never imported. FusedAttention runs inference only and is not exported (no ONNX
// op has its head-split layout); SkipLayerNormalization is ONNX Runtime's com.microsoft op of that name (its first four
// inputs) and trains through the Add and LayerNormalization it stands for. FusedGemm (Gemm and the ReLU or GELU after
// it, Graph/GraphOps.FusedGemm.cs) trains through the two ops; it is not exported (com.microsoft's has no GELU).
// QuantizeDequantizeLinear (an activation's Q/DQ pair, Inference/QuantizeDequantizeFusion) and BatchNormalizationRelu (a
// pre-activation norm and its Relu, Inference/FloatGraphFusion) run inference only.
using Condense.Tensors;
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
        new(OpTypes.QuantizeDequantizeLinear, (n, x, _) => [QuantizeDequantize(n, x)], OpGradient.None, OpExport.None)
            { Import = OpImport.EngineOnly, FloatHeld = true },
        new(OpTypes.DynamicQuantizeDequantizeLinear, (n, x, _) => [DynamicQuantizeDequantize(n, x)], OpGradient.None, OpExport.None)
            { Import = OpImport.EngineOnly },
        new(OpTypes.BatchNormalizationRelu, (n, x, _) => [BatchNormalizationRelu(n, x)], OpGradient.None, OpExport.None)
            { Import = OpImport.EngineOnly },
    ];

    // Input x; the uint8 codes' scale and zero point of this batch (DynamicQuantizeLinear's), then the round trip.
    private static Tensor DynamicQuantizeDequantize(Node n, Tensor?[] x)
    {
        var input = Required(n, x, 0);
        var (scale, zeroPoint) = Kernels.Transformer.DynamicQuantizedMatMul.ParametersParallel(input.Data);
        if (!float.IsFinite(scale))   // as the unfused DynamicQuantizeLinear refuses an infinite value
            throw new CondenseException($"node '{n.Name}' ({n.OpType}): quantization scale must be positive and finite, got {scale}");
        var y = Tensor.Uninitialized(input.Shape);
        Kernels.Elementwise.LanePass.InChunks(input.Data, y.Data,
            (path, from, to) => Kernels.Int8Gemm.QuantizeLinear.RoundTrip(path, from, scale, zeroPoint, 0, 255, to));
        return y;
    }

    // Inputs x, a one-element scale and zero point (float-held); attributes qmin and qmax, the codes' range.
    private static Tensor QuantizeDequantize(Node n, Tensor?[] x)
    {
        var input = Required(n, x, 0);
        float scale = Required(n, x, 1).Data[0];
        int zeroPoint = Optional(x, 2) is { } z ? (int)z.Data[0] : 0;
        var y = Tensor.Uninitialized(input.Shape);
        int qMin = (int)n.Int("qmin", 0), qMax = (int)n.Int("qmax", 255);
        Kernels.Elementwise.LanePass.InChunks(input.Data, y.Data,
            (path, from, to) => Kernels.Int8Gemm.QuantizeLinear.RoundTrip(path, from, scale, zeroPoint, qMin, qMax, to));
        return y;
    }
}
