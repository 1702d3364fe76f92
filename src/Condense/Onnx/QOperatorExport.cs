// QDQ → QOperator: rewrites a quantized graph as Quantizer makes it (docs/quantized-graph.md) into ONNX
// Runtime's other quantized format, where each layer is one integer operator instead of float ops between
// QuantizeLinear/DequantizeLinear pairs. Static Gemm → com.microsoft QGemm; dynamic Gemm or MatMul →
// MatMulInteger → Cast → Mul(x_scale·w_scale) (→ Add(bias)), what ORT's quantize_dynamic emits.
// Why QGemm for static layers: it is the one ORT op that computes exactly what our integer engine does —
// acc = Σ (x_q − z_x)·w_q + bias32 in int32 (bias quantized with scale s_x·s_w[o], zero point 0), then either
// requantizes to (s_y, z_y) or, without y_scale, returns acc·s_x·s_w[o] in float (our last layer). ORT's own
// quantization tool emits it for Gemm. QLinearMatMul has no bias input, so a bias would need a QLinearAdd
// at the output scale — a second rounding our engine does not make.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>The operator set a quantized model is written to ONNX with.</summary>
public enum QuantizedOnnxFormat
{
    /// <summary>QuantizeLinear/DequantizeLinear pairs around float ops (the graph as Condense holds it).</summary>
    Qdq,
    /// <summary>Integer operators: QGemm / QLinearConv (static) or MatMulInteger with float scaling (dynamic).</summary>
    QOperator,
    /// <summary>ONNX Runtime's MatMulNBits for 4-bit weight-only layers (block-wise scales along K).</summary>
    MatMulNBits,
}

/// <summary>Converts QDQ graphs into ONNX Runtime's QOperator form.</summary>
public static class QOperatorExport
{
    /// <summary>The ONNX Runtime contrib domain (QGemm, MatMulNBits).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    // One rewrite per float op a quantized layer is built on (Conv → QLinearConv: QLinearConvExport.cs).
    private static readonly Dictionary<string, Func<QdqGraphRewrite, Node, List<Node>?>> Rewriters = new()
    {
        [OpTypes.Gemm] = RewriteGemm,
        [OpTypes.MatMul] = RewriteMatMul,
        [OpTypes.Conv] = QLinearConvExport.Rewrite,
    };

    /// <summary>
    /// The QOperator form of <paramref name="qdq"/> (which is not changed): every quantized layer becomes integer
    /// operators; float layers and other ops pass through. Throws a one-line error for layers QOperator cannot
    /// express (weight-only, non-int8 weights, non-Linear Gemm attributes).
    /// </summary>
    public static ModelGraph Convert(ModelGraph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        return QdqGraphRewrite.Apply(qdq, "QOperator export", Rewriters);
    }

    // Gemm(DQ(x_q), DQ(W_q), b): static → QGemm; dynamic (x_q from DynamicQuantizeLinear) → MatMulInteger chain.
    private static List<Node>? RewriteGemm(QdqGraphRewrite r, Node gemm)
    {
        var weight = r.QuantizedWeight(gemm);
        if (weight is null) return null;   // a layer left in float
        var input = r.Graph.Producer(gemm.Inputs[0]);
        if (input is not { OpType: OpTypes.DequantizeLinear })
            throw r.Error(
                $"layer '{gemm.Name}' quantizes only its weights; QOperator needs static or dynamic quantization (use the qdq or matmulnbits format)");
        r.CheckLinear(gemm);
        if (r.Graph.TypeOf(weight.Inputs[0]) != ElementType.Int8)
            throw r.Error($"layer '{gemm.Name}' has {r.Graph.TypeOf(weight.Inputs[0])} weights; QGemm and MatMulInteger take int8 (quantize with 8 bits)");
        if (weight.Int("block_size", 0) > 0)
            throw r.Error($"layer '{gemm.Name}' has block-wise weight scales; QOperator takes one scale per tensor or output channel");
        var source = r.Graph.Producer(input.Inputs[0]);
        return source is { OpType: OpTypes.DynamicQuantizeLinear } ? DynamicGemm(r, gemm, weight, source) : StaticGemm(r, gemm, input, weight);
    }

    // MatMul(DQ(x_q), DQ(W_q)) with W [in, out], as exporters write a transformer's linear layers: dynamic only, as
    // MatMulInteger(x_q, W_q, z_x) → Cast → Mul(s_x · s_w), what ORT's quantize_dynamic writes for them.
    private static List<Node>? RewriteMatMul(QdqGraphRewrite r, Node matmul)
    {
        var weight = r.QuantizedWeight(matmul);
        if (weight is null) return null;
        var input = r.Graph.Producer(matmul.Inputs[0]);
        if (input is not { OpType: OpTypes.DequantizeLinear } || r.Graph.Producer(input.Inputs[0]) is not { OpType: OpTypes.DynamicQuantizeLinear } dynamic)
            throw r.Error($"layer '{matmul.Name}': QOperator export of a MatMul layer needs dynamic quantization (use the qdq format)");
        if (r.Graph.TypeOf(weight.Inputs[0]) != ElementType.Int8 || weight.Int("block_size", 0) > 0)
            throw r.Error($"layer '{matmul.Name}' needs int8 weights with one scale per tensor or output column for MatMulInteger");
        string g = matmul.Name;
        var matmulInputs = new List<string> { dynamic.Outputs[0], weight.Inputs[0], dynamic.Outputs[2] };
        if (r.Graph.Initializers.TryGetValue(r.WeightZeroPoint(weight), out var wz) && wz.Data.Any(v => v != 0f))
            matmulInputs.Add(weight.Inputs[2]);
        return
        [
            new Node(g + "/MatMulInteger", OpTypes.MatMulInteger, matmulInputs, [g + "/MatMulInteger_output_0"]),
            new Node(g + "/Cast", OpTypes.Cast, [g + "/MatMulInteger_output_0"], [g + "/Cast_output_0"],
                new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }),
            new Node(g + "/scale/Mul", OpTypes.Mul, [dynamic.Outputs[1], weight.Inputs[1]], [g + "/scale/Mul_output_0"]),
            new Node(g + "/Mul", OpTypes.Mul, [g + "/Cast_output_0", g + "/scale/Mul_output_0"], [matmul.Outputs[0]]),
        ];
    }

    // QGemm(x_q, s_x, z_x, W_q, s_w, z_w, bias32, [s_y, z_y]), transB = 1 (W_q stays [out, in]).
    private static List<Node> StaticGemm(QdqGraphRewrite r, Node gemm, Node input, Node weight)
    {
        var (inputScale, inputZeroPoint) = r.ActivationParams(input);
        var weightScale = r.PerChannelScales(weight, r.Graph.Initializers[weight.Inputs[0]].Shape[0]);
        string bias = r.Int32Bias(gemm, inputScale, weightScale);
        var (output, outputQuantization) = r.FusedOutput(gemm);
        var inputs = new List<string> { input.Inputs[0], input.Inputs[1], inputZeroPoint, weight.Inputs[0], weight.Inputs[1], r.WeightZeroPoint(weight), bias };
        if (outputQuantization is not null) inputs.AddRange([outputQuantization.Inputs[1], outputQuantization.Inputs[2]]);
        var attributes = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        return [new Node(gemm.Name + "/QGemm", OpTypes.QGemm, inputs, [output], attributes)];
    }

    // y = Cast(MatMulInteger(x_q, W_qᵀ, z_x)) · (s_x · s_w) + b — MatMulInteger reads B as [in, out].
    private static List<Node> DynamicGemm(QdqGraphRewrite r, Node gemm, Node weight, Node dynamic)
    {
        string g = gemm.Name, w = weight.Inputs[0];
        var integers = r.Graph.Initializers[w];
        string transposed = r.AddInitializer(w + ".transposed", integers.Transpose(), ElementType.Int8);
        var nodes = new List<Node>();
        var matmulInputs = new List<string> { dynamic.Outputs[0], transposed, dynamic.Outputs[2] };
        if (r.Graph.Initializers.TryGetValue(r.WeightZeroPoint(weight), out var wz) && wz.Data.Any(v => v != 0f))
            matmulInputs.Add(weight.Inputs[2]);
        nodes.Add(new Node(g + "/MatMulInteger", OpTypes.MatMulInteger, matmulInputs, [g + "/MatMulInteger_output_0"]));
        nodes.Add(new Node(g + "/Cast", OpTypes.Cast, [g + "/MatMulInteger_output_0"], [g + "/Cast_output_0"],
            new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));   // TensorProto FLOAT
        nodes.Add(new Node(g + "/scale/Mul", OpTypes.Mul, [dynamic.Outputs[1], weight.Inputs[1]], [g + "/scale/Mul_output_0"]));
        bool hasBias = gemm.Inputs.Count > 2 && gemm.Inputs[2].Length > 0;
        string scaled = hasBias ? g + "/Mul_output_0" : gemm.Outputs[0];
        nodes.Add(new Node(g + "/Mul", OpTypes.Mul, [g + "/Cast_output_0", g + "/scale/Mul_output_0"], [scaled]));
        if (hasBias) nodes.Add(new Node(g + "/Add", OpTypes.Add, [scaled, gemm.Inputs[2]], [gemm.Outputs[0]]));
        return nodes;
    }
}
