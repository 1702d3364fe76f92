// QOperator → QDQ on import: the inverse of QOperatorExport. Each integer operator of a QOperator file becomes
// the float op between DequantizeLinear / QuantizeLinear nodes that it stands for (docs/quantized-graph.md), so
// the graph is the QDQ form Condense holds: GraphModule runs it as the float simulation and the integer engine
// compiles what it recognises. QGemm(A, s_a, z_a, B, s_b, z_b, C, [s_y, z_y]) is
//   Gemm(DQ(A), DQ(B), C·α·s_a·s_b, α, transA, transB) [→ Q(s_y, z_y)]
// with the int32 C (scale α·s_a·s_b, zero point 0, the contrib spec) held as a float bias: the integer engine
// rounds it back to C exactly (|C| < 2^23). QLinearConv and QLinearMatMul likewise with Conv and MatMul.
// MatMulNBits is in MatMulNBitsImport.cs; MatMulInteger and ConvInteger run as they are (Graph/GraphOps.Integer.cs).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>Rewrites the quantized operators of an imported ONNX graph into QDQ form.</summary>
internal static partial class QOperatorImport
{
    /// <summary>The ops of ONNX Runtime's com.microsoft domain the importer reads.</summary>
    public static readonly IReadOnlySet<string> MicrosoftOps = new HashSet<string> { OpTypes.QGemm, OpTypes.MatMulNBits, OpTypes.QLinearConv };

    private static readonly Dictionary<string, Func<QOperatorRewrite, Node, List<Node>>> Rewriters = new()
    {
        [OpTypes.QGemm] = QGemm,
        [OpTypes.QLinearConv] = QLinearConv,
        [OpTypes.QLinearMatMul] = QLinearMatMul,
        [OpTypes.MatMulNBits] = MatMulNBits,
    };

    /// <summary>True for an op this pass rewrites (it need not be one the engine runs).</summary>
    public static bool Rewrites(string opType) => Rewriters.ContainsKey(opType);

    /// <summary>
    /// <paramref name="nodes"/> with every quantized operator replaced by its QDQ form; new initializers go into
    /// <paramref name="graph"/>, and those only the replaced ops read are removed.
    /// </summary>
    public static List<Node> Rewrite(ModelGraph graph, List<Node> nodes)
    {
        if (!nodes.Any(n => Rewrites(n.OpType))) return nodes;
        var r = new QOperatorRewrite(graph, nodes);
        var result = new List<Node>();
        var replacedInputs = new HashSet<string>();
        foreach (var node in nodes)
        {
            if (!Rewriters.TryGetValue(node.OpType, out var rewrite)) { result.Add(node); continue; }
            result.AddRange(rewrite(r, node));
            replacedInputs.UnionWith(node.Inputs);
        }
        var read = result.SelectMany(n => n.Inputs).Concat(graph.Outputs.Select(o => o.Name)).ToHashSet();
        foreach (var name in replacedInputs.Where(n => graph.Initializers.ContainsKey(n) && !read.Contains(n)))
        {
            graph.Initializers.Remove(name);
            graph.Trainable.Remove(name);
            graph.ElementTypes.Remove(name);
        }
        return result;
    }

    // QGemm (com.microsoft): inputs A, a_scale, a_zero_point, B, b_scale, b_zero_point, [C], [y_scale], [y_zero_point];
    // b_scale per tensor or per column of op(B) (axis 0 of B when transB, else 1); without y_scale the output is float.
    private static List<Node> QGemm(QOperatorRewrite r, Node n)
    {
        r.CheckInputs(n, 6, 9);
        float alpha = n.Float("alpha", 1f);
        bool transB = n.Int("transB", 0) != 0;
        var nodes = new List<Node>();
        string a = r.Dequantize(nodes, n, "input", n.Inputs[0], n.Inputs[1], r.Optional(n, 2), axis: null);
        var weightScale = r.Constant(n, 4, "b_scale");
        string b = r.Dequantize(nodes, n, "weight", n.Inputs[3], n.Inputs[4], r.Optional(n, 5), weightScale.Size > 1 ? (transB ? 0 : 1) : null);
        var inputs = new List<string> { a, b };
        if (r.Optional(n, 6) is { } c) inputs.Add(r.Bias(n, c, alpha * r.Constant(n, 1, "a_scale").Item(), weightScale));
        var attributes = new Dictionary<string, AttributeValue>
        {
            ["alpha"] = AttributeValue.Float(alpha), ["transA"] = AttributeValue.Int(n.Int("transA", 0)), ["transB"] = AttributeValue.Int(transB ? 1 : 0),
        };
        r.Layer(nodes, n, OpTypes.Gemm, inputs, attributes, r.Optional(n, 7), r.Optional(n, 8));
        return nodes;
    }

    // QLinearConv (ONNX, and com.microsoft's NCHW form): x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
    // y_zero_point, [B int32 with scale s_x·s_w[m]].
    private static List<Node> QLinearConv(QOperatorRewrite r, Node n)
    {
        r.CheckInputs(n, 8, 9);
        if (n.Int("channels_last", 0) != 0) throw r.Error(n, "channels_last (NHWC) is not supported");
        var nodes = new List<Node>();
        string x = r.Dequantize(nodes, n, "input", n.Inputs[0], n.Inputs[1], r.Optional(n, 2), axis: null);
        var weightScale = r.Constant(n, 4, "w_scale");
        string w = r.Dequantize(nodes, n, "weight", n.Inputs[3], n.Inputs[4], r.Optional(n, 5), weightScale.Size > 1 ? 0 : null);
        var inputs = new List<string> { x, w };
        if (r.Optional(n, 8) is { } bias) inputs.Add(r.Bias(n, bias, r.Constant(n, 1, "x_scale").Item(), weightScale));
        var attributes = n.Attributes.Where(kv => kv.Key != "channels_last").ToDictionary(kv => kv.Key, kv => kv.Value);
        r.Layer(nodes, n, OpTypes.Conv, inputs, attributes, n.Inputs[6], r.Optional(n, 7));
        return nodes;
    }

    // QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point. Scales per tensor,
    // per row of a 2-D a, or per column of b (a 1-D scale along b's last axis).
    private static List<Node> QLinearMatMul(QOperatorRewrite r, Node n)
    {
        r.CheckInputs(n, 8, 8);
        var nodes = new List<Node>();
        var aScale = r.Constant(n, 1, "a_scale");
        var bScale = r.Constant(n, 4, "b_scale");
        if (aScale.Rank > 1 || bScale.Rank > 1) throw r.Error(n, "scales of rank above 1 (per row or column of a batch of matrices) are not supported");
        int bAxis = r.Graph.Initializers.TryGetValue(n.Inputs[3], out var bWeight) ? bWeight.Rank - 1 : 1;
        string a = r.Dequantize(nodes, n, "a", n.Inputs[0], n.Inputs[1], r.Optional(n, 2), aScale.Size > 1 ? 0 : null);
        string b = r.Dequantize(nodes, n, "b", n.Inputs[3], n.Inputs[4], r.Optional(n, 5), bScale.Size > 1 ? bAxis : null);
        r.Layer(nodes, n, OpTypes.MatMul, [a, b], [], n.Inputs[6], r.Optional(n, 7));
        return nodes;
    }

    // Ops that move or select quantized codes without changing their meaning: max commutes with the monotone
    // dequantization, and reshapes move codes unchanged.
    private static readonly HashSet<string> CodePreserving =
        [OpTypes.MaxPool, OpTypes.Flatten, OpTypes.Reshape, OpTypes.Identity, OpTypes.Transpose, OpTypes.Squeeze, OpTypes.Unsqueeze];

    /// <summary>
    /// A QOperator graph runs MaxPool / Flatten / Reshape on the codes a QuantizeLinear (or a QLinearConv) wrote; the QDQ
    /// form runs them between a DequantizeLinear and a QuantizeLinear with the same per-tensor (s, z)
    /// (Quantization/QuantizedPooling.cs), which is what the integer engine recognises. Both give the same codes
    /// (quantizing dequantized codes again is the identity); this rewrites the first form into the second.
    /// </summary>
    public static void DequantizeAroundCodeOps(ModelGraph graph)
    {
        var carriers = new Dictionary<string, Node>();   // value → the QuantizeLinear whose (s, z) its codes are in
        var names = graph.Nodes.SelectMany(n => n.Outputs).Concat(graph.Initializers.Keys).ToHashSet();
        string Fresh(string name)
        {
            string unique = name;
            for (int i = 1; !names.Add(unique); i++) unique = $"{name}_{i}";
            return unique;
        }
        var result = new List<Node>();
        foreach (var node in graph.Nodes)
        {
            result.Add(node);
            if (node.OpType == OpTypes.QuantizeLinear && graph.Initializers.TryGetValue(node.Inputs[1], out var scale) && scale.Size == 1
                && (node.Inputs.Count < 3 || node.Inputs[2].Length == 0 || graph.Initializers.ContainsKey(node.Inputs[2])))
                carriers[node.Outputs[0]] = node;
            if (!CodePreserving.Contains(node.OpType) || node.Outputs.Count != 1 || !carriers.TryGetValue(node.Inputs[0], out var q)) continue;
            var parameters = q.Inputs.Skip(1).Take(2).Where(i => i.Length > 0).ToList();
            string dequantized = Fresh(node.Name + "/input/DequantizeLinear_output_0"), y = node.Outputs[0];
            var dequantize = new Node(node.Name + "/input/DequantizeLinear", OpTypes.DequantizeLinear, [node.Inputs[0], .. parameters], [dequantized]);
            result.Insert(result.Count - 1, dequantize);
            node.Inputs[0] = dequantized;
            node.Outputs[0] = Fresh(node.Name + "_output_0");
            var requantize = new Node(node.Name + "/output/QuantizeLinear", OpTypes.QuantizeLinear, [node.Outputs[0], .. parameters], [y], q.Attributes);
            result.Add(requantize);
            carriers[y] = requantize;
        }
        graph.Nodes.Clear();
        graph.Nodes.AddRange(result);
    }
}
