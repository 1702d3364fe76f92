// Quantization ops: QuantizeLinear / DequantizeLinear (the QDQ form Condense holds quantized graphs in), the
// dynamic form and its fused MatMul (DynamicQuantizeMatMul, which InferenceEngine runs dynamic graphs on), the exact
// integer products of dynamic QOperator graphs (GraphOps.Integer.cs), and the QOperator ops the importer rewrites
// into QDQ (Onnx/QOperatorImport) and the exporter writes (Onnx/QOperatorExport, MatMulNBitsExport). Their gradient
// is the straight-through estimator of the QDQ ops they are or become (none for the inference-only integer products).
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class QuantizeOps
{
    private static readonly HashSet<int> ZeroPointInput = [2];

    public static OpDef[] Defs =>
    [
        new(OpTypes.QuantizeLinear, QuantizeLinear, OpGradient.StraightThrough, OpExport.AsIs) 
            { Since = 10, CondenseAttributes = ["qmin", "qmax"], IntegerInputs = ZeroPointInput },
        new(OpTypes.DequantizeLinear, (n, x, _) => [n.Int("block_size", 0) > 0
            ? Required(n, x, 0).DequantizeLinearBlocked(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1), (int)n.Int("block_size", 0))
            : Required(n, x, 0).DequantizeLinear(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1))],
            OpGradient.StraightThrough, OpExport.AsIs) { Since = 10, FloatHeld = true },
        new(OpTypes.DynamicQuantizeLinear, (n, x, _) => DynamicQuantizeLinear(Required(n, x, 0)), OpGradient.StraightThrough, OpExport.AsIs)
            { Since = 11, FloatHeld = true },
        new(OpTypes.MatMulInteger, (n, x, c) => [Int32Result(MatMulInteger(n, x), c)], OpGradient.None, OpExport.AsIs) { Since = 10, FloatHeld = true },
        new(OpTypes.ConvInteger, (n, x, c) => [Int32Result(ConvInteger(n, x), c)], OpGradient.None, OpExport.AsIs) { Since = 10, FloatHeld = true },
        new(OpTypes.DynamicQuantizeMatMul, (n, x, _) => [DynamicQuantizeMatMul(n, x)], OpGradient.None, OpExport.ContribDomain)
            { FloatHeld = true, Import = OpImport.EngineOnly },
        new(OpTypes.QuantizeMatMul, (n, x, _) => [DynamicQuantizeMatMul(n, x)], OpGradient.None, OpExport.None)
            { FloatHeld = true, Import = OpImport.EngineOnly },
        new(OpTypes.QLinearConv, null, OpGradient.StraightThrough, OpExport.AsIs) { Since = 10, Import = OpImport.RewrittenToQdq },
        new(OpTypes.QLinearMatMul, null, OpGradient.StraightThrough, OpExport.None) { Since = 10, Import = OpImport.RewrittenToQdq },
        new(OpTypes.QGemm, null, OpGradient.StraightThrough, OpExport.ContribDomain) { Import = OpImport.RewrittenToQdq },
        new(OpTypes.MatMulNBits, null, OpGradient.StraightThrough, OpExport.ContribDomain) { Import = OpImport.RewrittenToQdq },
    ];

    // MatMulInteger and ConvInteger give int32 (ONNX opset 10); the kernels compute the exact sums in float32 or double,
    // so outside training the result becomes the int32 tensor ONNX specifies.
    private static Tensor Int32Result(Tensor y, OpContext c) => c.Training ? y : TypedOps.Cast(y, DataType.Int32);

    // The output type is the zero point's type (uint8 when there is none), as ONNX specifies: a typed zero point
    // says it, a float-held one its initializer's ElementType. Where no gradient is wanted the output is a tensor
    // of that type; while training it stays float32 codes for the straight-through gradient.
    private static Tensor[] QuantizeLinear(Node n, Tensor?[] x, OpContext c)
    {
        var zeroPoint = Optional(x, 2);
        var type = zeroPoint is { DataType: not DataType.Float32 } typed ? ElementTypeOf(n, typed.DataType)
            : n.Inputs.Count > 2 && n.Inputs[2].Length > 0 && c.Graph is not null ? c.Graph.TypeOf(n.Inputs[2]) : ElementType.UInt8;
        if (zeroPoint is { DataType: not DataType.Float32 }) zeroPoint = new Tensor(zeroPoint.Data, zeroPoint.Shape);
        var (min, max) = type == ElementType.Float32 ? ElementType.UInt8.Range() : type.Range();
        // Fewer bits than the stored type (e.g. 4-bit weights in QAT): a narrower range by attribute.
        min = n.Int("qmin", min); max = n.Int("qmax", max);
        var input = Required(n, x, 0);
        var codes = input.QuantizeLinear(Required(n, x, 1), zeroPoint, (int)n.Int("axis", 1), min, max);
        if (codes.RequiresGrad) return [codes];
        var dataType = type switch { ElementType.Int8 or ElementType.Int4 => DataType.Int8, ElementType.Int32 => DataType.Int32, _ => DataType.UInt8 };
        return [TypedOps.Cast(codes, dataType)];
    }

    private static ElementType ElementTypeOf(Node n, DataType type) => type switch
    {
        DataType.UInt8 => ElementType.UInt8,
        DataType.Int8 => ElementType.Int8,
        DataType.Int32 => ElementType.Int32,
        _ => throw new CondenseException($"node '{n.Name}' (QuantizeLinear): a {type.OnnxName()} zero point is not supported (uint8, int8, int32)"),
    };
}
