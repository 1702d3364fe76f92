// ONNX Runtime's com.microsoft ops that its own graph optimizer writes into the models it saves (SessionOptions'
// optimized-model path at the extended level, and so some of Hugging Face Optimum's model_O2 files): each becomes the
// standard ops it stands for (ONNX Runtime's contrib op docs), in the form PyTorch's exporter writes, so every pass
// reads the graph as it would have been exported. FusedMatMul → MatMul (or Einsum with a transposed operand) and a scale;
// BiasGelu, Gelu and FastGelu → the erf or tanh decompositions; FusedGemm → Gemm and its activation; SkipLayerNormalization
// → the residual Add and LayerNormalization. The fused attention and embedding ops of the Python transformer optimizer
// (Attention, EmbedLayerNormalization) stay refused.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static class ContribOpsImport
{
    /// <summary>The com.microsoft ops rewritten here.</summary>
    public static readonly IReadOnlySet<string> Ops = new HashSet<string>
        { "FusedMatMul", "BiasGelu", OpTypes.Gelu, "FastGelu", OpTypes.FusedGemm, OpTypes.SkipLayerNormalization };

    /// <summary>The standard nodes that compute <paramref name="node"/>; constants they need go into <paramref name="graph"/>.</summary>
    public static IReadOnlyList<Node> Rewrite(ModelGraph graph, Node node, long opset)
    {
        var b = new Builder(graph, node);
        switch (node.OpType)
        {
            case "FusedMatMul": b.FusedMatMul(opset); break;
            case "BiasGelu": b.Gelu(b.Add(node.Inputs[0], node.Inputs[1]), node.Outputs[0]); break;
            case OpTypes.Gelu: b.Gelu(node.Inputs[0], node.Outputs[0]); break;
            case "FastGelu": b.FastGelu(node.Inputs.Count > 1 && node.Inputs[1].Length > 0 ? b.Add(node.Inputs[0], node.Inputs[1]) : node.Inputs[0]); break;
            case OpTypes.FusedGemm: b.FusedGemm(); break;
            default: b.SkipLayerNormalization(); break;
        }
        return b.Nodes;
    }

    private sealed class Builder(ModelGraph graph, Node node)
    {
        public List<Node> Nodes { get; } = [];
        private int _count;

        private string Fresh() => $"{node.Name}/contrib{_count++}";

        private string Scalar(float value)
        {
            string name = Fresh();
            graph.Initializers[name] = Tensor.Scalar(value);
            return name;
        }

        private string Emit(string op, string[] inputs, string? output = null, Dictionary<string, AttributeValue>? attributes = null)
        {
            output ??= Fresh();
            Nodes.Add(new Node(Fresh(), op, inputs, [output], attributes));
            return output;
        }

        public string Add(string a, string b) => Emit(OpTypes.Add, [a, b]);

        private CondenseException Refuse(string why) => new($"node '{node.Name}' (com.microsoft {node.OpType}): {why}");

        // alpha · op(A) · op(B), op a transpose of the last two axes where transA / transB say.
        public void FusedMatMul(long opset)
        {
            if (node.Int("transBatchA", 0) != 0 || node.Int("transBatchB", 0) != 0) throw Refuse("transBatchA and transBatchB are not supported");
            bool transA = node.Int("transA", 0) != 0, transB = node.Int("transB", 0) != 0;
            float alpha = node.Float("alpha", 1f);
            string output = alpha == 1f ? node.Outputs[0] : Fresh();
            if (!transA && !transB) Emit(OpTypes.MatMul, [node.Inputs[0], node.Inputs[1]], output);
            else if (opset < 12) throw Refuse("a transposed operand needs Einsum (opset 12)");
            else
            {
                string equation = $"{(transA ? "...ji" : "...ij")},{(transB ? "...kj" : "...jk")}->...ik";
                Emit(OpTypes.Einsum, [node.Inputs[0], node.Inputs[1]], output, new() { ["equation"] = AttributeValue.String(equation) });
            }
            if (alpha != 1f) Emit(OpTypes.Mul, [output, Scalar(alpha)], node.Outputs[0]);
        }

        // x · ½ · (1 + erf(x / √2)), as PyTorch writes GELU (FloatGraphFusion runs it as one op).
        public void Gelu(string x, string output)
        {
            var erf = Emit(OpTypes.Erf, [Emit(OpTypes.Div, [x, Scalar(1.41421356f)])]);
            Emit(OpTypes.Mul, [Emit(OpTypes.Mul, [x, Emit(OpTypes.Add, [erf, Scalar(1f)])]), Scalar(0.5f)], output);
        }

        // x · ½ · (1 + tanh(√(2/π) · (x + 0.044715 x³))), the tanh approximation.
        public void FastGelu(string x)
        {
            var cube = Emit(OpTypes.Mul, [Emit(OpTypes.Mul, [x, x]), x]);
            var inner = Emit(OpTypes.Mul, [Emit(OpTypes.Add, [x, Emit(OpTypes.Mul, [cube, Scalar(0.044715f)])]), Scalar(0.7978845608f)]);
            var onePlus = Emit(OpTypes.Add, [Emit(OpTypes.Tanh, [inner]), Scalar(1f)]);
            Emit(OpTypes.Mul, [Emit(OpTypes.Mul, [x, onePlus]), Scalar(0.5f)], node.Outputs[0]);
        }

        // Gemm with its own attributes, then the activation the node names.
        public void FusedGemm()
        {
            var gemm = new Dictionary<string, AttributeValue>();
            foreach (var key in new[] { "alpha", "beta", "transA", "transB" })
                if (node.Attributes.TryGetValue(key, out var value)) gemm[key] = value;
            string activation = node.Attributes.TryGetValue("activation", out var a) ? a.StringValue ?? "" : "";
            var (op, attributes) = activation switch
            {
                OpTypes.Relu or OpTypes.Tanh or OpTypes.Sigmoid => (activation, new Dictionary<string, AttributeValue>()),
                OpTypes.LeakyRelu => (activation, new() { ["alpha"] = AttributeValue.Float(node.Float("activation_alpha", 0.01f)) }),
                OpTypes.HardSigmoid => (activation, new Dictionary<string, AttributeValue>
                {
                    ["alpha"] = AttributeValue.Float(node.Float("activation_alpha", 0.2f)),
                    ["beta"] = AttributeValue.Float(node.Float("activation_beta", 0.5f)),
                }),
                _ => throw Refuse($"activation '{activation}' is not supported (Relu, LeakyRelu, Tanh, Sigmoid, HardSigmoid)"),
            };
            Emit(op, [Emit(OpTypes.Gemm, [.. node.Inputs], attributes: gemm)], node.Outputs[0], attributes);
        }

        // LayerNormalization(input + skip (+ bias), gamma, beta) over the last axis; the sum is output 3 when asked for.
        public void SkipLayerNormalization()
        {
            string Input(int i) => node.Inputs.Count > i ? node.Inputs[i] : "";
            string Output(int i) => node.Outputs.Count > i && !node.Outputs[i].Contains("/unused", StringComparison.Ordinal) ? node.Outputs[i] : "";
            if (Output(1).Length > 0 || Output(2).Length > 0) throw Refuse("its mean and inverse standard deviation outputs are not supported");
            string sumName = Output(3).Length > 0 ? Output(3) : Fresh();
            string sum = Input(4).Length > 0 ? Emit(OpTypes.Add, [Add(Input(0), Input(1)), Input(4)], sumName)
                : Emit(OpTypes.Add, [Input(0), Input(1)], sumName);
            string[] inputs = Input(3).Length > 0 ? [sum, Input(2), Input(3)] : [sum, Input(2)];
            Emit(OpTypes.LayerNormalization, inputs, node.Outputs[0], new()
            {
                ["axis"] = AttributeValue.Int(-1), ["epsilon"] = AttributeValue.Float(node.Float("epsilon", 1e-12f)),
            });
        }
    }
}
