// The engine's own fused ops (Graph/Ops/FusedOps): made by Inference/AttentionFusion, GemmActivationFusion,
// FloatGraphFusion and QuantizeDequantizeFusion at compile
// time, never read from a file.
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>
    /// FusedAttention: softmax(scale·Q·Kᵀ + bias)·V per head on Q, K, V in [batch, length, heads, width], the result in the
    /// same layout (the engine's; not exported).
    /// </summary>
    public const string FusedAttention = "FusedAttention";
    /// <summary>SkipLayerNormalization: LayerNormalization of x + skip over the last axis (com.microsoft).</summary>
    public const string SkipLayerNormalization = "SkipLayerNormalization";
    /// <summary>
    /// FusedGemm: Gemm followed by the activation its attribute names, Relu or Gelu (as com.microsoft's FusedGemm; made by
    /// Inference/GemmActivationFusion, not exported).
    /// </summary>
    public const string FusedGemm = "FusedGemm";
    /// <summary>
    /// QuantizeDequantizeLinear: DequantizeLinear(QuantizeLinear(x, scale, zero point)) with one scale, as floats in one pass
    /// (made by Inference/QuantizeDequantizeFusion of an activation's Q/DQ pair, not exported).
    /// </summary>
    public const string QuantizeDequantizeLinear = "QuantizeDequantizeLinear";
    /// <summary>
    /// DynamicQuantizeDequantizeLinear: DequantizeLinear of DynamicQuantizeLinear(x)'s three outputs, as floats in one pass
    /// (made by Inference/QuantizeDequantizeFusion, not exported).
    /// </summary>
    public const string DynamicQuantizeDequantizeLinear = "DynamicQuantizeDequantizeLinear";
    /// <summary>
    /// QuantizeMatMul: DynamicQuantizeMatMul's inputs and then the fixed uint8 scale and zero point of x (inputs 5 and 6): a
    /// static QDQ MatMul on the integer GEMM (made by Inference/DynamicMatMulFusion for the float simulation, not exported).
    /// </summary>
    public const string QuantizeMatMul = "QuantizeMatMul";
    /// <summary>
    /// BatchNormalizationRelu: an inference BatchNormalization and the Relu after it in one pass (made by
    /// Inference/FloatGraphFusion of a pre-activation norm, DenseNet's; not exported).
    /// </summary>
    public const string BatchNormalizationRelu = "BatchNormalizationRelu";
}
