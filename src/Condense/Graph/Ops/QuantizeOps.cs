// Quantization ops: QuantizeLinear / DequantizeLinear (the QDQ form Condense holds quantized graphs in), the
// dynamic form, the exact integer products of dynamic QOperator graphs (GraphOps.Integer.cs), and the QOperator
// ops the importer rewrites into QDQ (Onnx/QOperatorImport) and the exporter writes (Onnx/QOperatorExport,
// MatMulNBitsExport). Their gradient is the straight-through estimator of the QDQ ops they are or become.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class QuantizeOps
{
    public static OpDef[] Defs =>
    [
        new(OpTypes.QuantizeLinear, QuantizeLinear, OpGradient.StraightThrough, OpExport.AsIs) { Since = 10, CondenseAttributes = ["qmin", "qmax"] },
        new(OpTypes.DequantizeLinear, (n, x, _) => [n.Int("block_size", 0) > 0
            ? Required(n, x, 0).DequantizeLinearBlocked(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1), (int)n.Int("block_size", 0))
            : Required(n, x, 0).DequantizeLinear(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1))],
            OpGradient.StraightThrough, OpExport.AsIs) { Since = 10 },
        new(OpTypes.DynamicQuantizeLinear, (n, x, _) => DynamicQuantizeLinear(Required(n, x, 0)), OpGradient.StraightThrough, OpExport.AsIs) { Since = 11 },
        new(OpTypes.MatMulInteger, (n, x, _) => [MatMulInteger(n, x)], OpGradient.None, OpExport.AsIs) { Since = 10 },
        new(OpTypes.ConvInteger, (n, x, _) => [ConvInteger(n, x)], OpGradient.None, OpExport.AsIs) { Since = 10 },
        new(OpTypes.QLinearConv, null, OpGradient.StraightThrough, OpExport.AsIs) { Since = 10, Import = OpImport.RewrittenToQdq },
        new(OpTypes.QLinearMatMul, null, OpGradient.StraightThrough, OpExport.None) { Since = 10, Import = OpImport.RewrittenToQdq },
        new(OpTypes.QGemm, null, OpGradient.StraightThrough, OpExport.ContribDomain) { Import = OpImport.RewrittenToQdq },
        new(OpTypes.MatMulNBits, null, OpGradient.StraightThrough, OpExport.ContribDomain) { Import = OpImport.RewrittenToQdq },
    ];

    private static Tensor[] QuantizeLinear(Node n, Tensor?[] x, OpContext c)
    {
        // The output type is the zero point's type (uint8 when there is none), as ONNX specifies.
        var type = n.Inputs.Count > 2 && n.Inputs[2].Length > 0 && c.Graph is not null ? c.Graph.TypeOf(n.Inputs[2]) : ElementType.UInt8;
        var (min, max) = type == ElementType.Float32 ? ElementType.UInt8.Range() : type.Range();
        // Fewer bits than the stored type (e.g. 4-bit weights in QAT): a narrower range by attribute.
        min = n.Int("qmin", min); max = n.Int("qmax", max);
        return [Required(n, x, 0).QuantizeLinear(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1), min, max)];
    }
}
