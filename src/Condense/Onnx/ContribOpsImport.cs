// ONNX Runtime's com.microsoft ops that its own graph optimizer writes into the models it saves (SessionOptions'
// optimized-model path at the extended level, and so some of Hugging Face Optimum's model_O2 files): each becomes the
// standard ops it stands for (ONNX Runtime's contrib op docs), in the form PyTorch's exporter writes, so every pass
// reads the graph as it would have been exported. FusedMatMul → MatMul (or Einsum with a transposed operand) and a scale;
// BiasGelu, Gelu and FastGelu → the erf or tanh decompositions; FusedGemm and FusedConv → Gemm or Conv and its activation
// (and FusedConv's residual summand); SkipLayerNormalization
// → the residual Add and LayerNormalization; the Python transformer optimizer's Attention and EmbedLayerNormalization →
// BERT's self-attention and embeddings as PyTorch exports them (ContribOpsImport.Attention.cs).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static partial class ContribOpsImport
{
    /// <summary>The com.microsoft ops rewritten here.</summary>
    public static readonly IReadOnlySet<string> Ops = new HashSet<string>
        { "FusedMatMul", "BiasGelu", OpTypes.Gelu, "FastGelu", OpTypes.FusedGemm, "FusedConv", OpTypes.SkipLayerNormalization, Attention, EmbedLayerNorm };

    /// <summary>
    /// The standard nodes, for a model of <paramref name="opset"/>, that compute <paramref name="node"/> (its outputs as the file
    /// names them, "" where an optional one is omitted); constants they need go into <paramref name="graph"/>.
    /// <paramref name="before"/> are the nodes read so far (an attention mask's rank is found from them).
    /// </summary>
    public static IReadOnlyList<Node> Rewrite(ModelGraph graph, Node node, long opset, IReadOnlyList<Node> before)
    {
        var b = new Builder(graph, node, opset, before);
        switch (node.OpType)
        {
            case "FusedMatMul": b.FusedMatMul(); break;
            case "BiasGelu": b.Gelu(b.Add(node.Inputs[0], node.Inputs[1]), node.Outputs[0]); break;
            case OpTypes.Gelu: b.Gelu(node.Inputs[0], node.Outputs[0]); break;
            case "FastGelu": b.FastGelu(node.Inputs.Count > 1 && node.Inputs[1].Length > 0 ? b.Add(node.Inputs[0], node.Inputs[1]) : node.Inputs[0]); break;
            case OpTypes.FusedGemm: b.FusedGemm(); break;
            case "FusedConv": b.FusedConv(); break;
            case Attention: b.Attention(); break;
            case EmbedLayerNorm: b.EmbedLayerNormalization(); break;
            default: b.SkipLayerNormalization(); break;
        }
        return b.Nodes;
    }

    /// <summary>
    /// Removes the constants among <paramref name="fusedInputs"/> (the rewritten ops' inputs) that no node reads any more:
    /// Attention's merged Q/K/V weight and bias, now three of each.
    /// </summary>
    public static void DropUnread(ModelGraph graph, IReadOnlySet<string> fusedInputs)
    {
        var read = graph.Nodes.SelectMany(n => n.Inputs).ToHashSet();
        foreach (var name in fusedInputs.Where(n => graph.Initializers.ContainsKey(n) && !read.Contains(n)))
        {
            graph.Initializers.Remove(name);
            graph.Trainable.Remove(name);
            graph.ElementTypes.Remove(name);
        }
    }

    private sealed partial class Builder(ModelGraph graph, Node node, long opset, IReadOnlyList<Node> before)
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
        public void FusedMatMul()
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
        public void FusedGemm() => Activation(Emit(OpTypes.Gemm, [.. node.Inputs], attributes: Copied("alpha", "beta", "transA", "transB")));

        // Conv of the first three inputs (+ the fourth, a residual summand, when given), then the activation (Clip's bounds in
        // activation_params, as ONNX Runtime's Conv + activation fusion writes them).
        public void FusedConv()
        {
            string[] conv = Input(2).Length > 0 ? [Input(0), Input(1), Input(2)] : [Input(0), Input(1)];
            var y = Emit(OpTypes.Conv, conv, attributes: Copied("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"));
            Activation(Input(3).Length > 0 ? Add(y, Input(3)) : y);
        }

        private Dictionary<string, AttributeValue> Copied(params string[] keys) =>
            keys.Where(node.Attributes.ContainsKey).ToDictionary(k => k, k => node.Attributes[k]);

        // The node's activation (attribute activation, its parameters in activation_alpha / _beta or activation_params).
        private void Activation(string x)
        {
            string activation = node.Attributes.TryGetValue("activation", out var a) ? a.StringValue ?? "" : "";
            float[] parameters = node.Attributes.TryGetValue("activation_params", out var p) && p.FloatsValue is { } given ? given : [];
            float Parameter(int i, string name, float fallback) => parameters.Length > i ? parameters[i] : node.Float(name, fallback);
            switch (activation)
            {
                case OpTypes.Relu or OpTypes.Tanh or OpTypes.Sigmoid:
                    Emit(activation, [x], node.Outputs[0]);
                    return;
                case OpTypes.LeakyRelu:
                    Emit(activation, [x], node.Outputs[0], new() { ["alpha"] = AttributeValue.Float(Parameter(0, "activation_alpha", 0.01f)) });
                    return;
                case OpTypes.HardSigmoid:
                    Emit(activation, [x], node.Outputs[0], new()
                    {
                        ["alpha"] = AttributeValue.Float(Parameter(0, "activation_alpha", 0.2f)),
                        ["beta"] = AttributeValue.Float(Parameter(1, "activation_beta", 0.5f)),
                    });
                    return;
                case OpTypes.Clip when parameters.Length == 2:
                    // Bounds as inputs from opset 11, as attributes before.
                    if (opset >= 11) Emit(activation, [x, Scalar(parameters[0]), Scalar(parameters[1])], node.Outputs[0]);
                    else Emit(activation, [x], node.Outputs[0],
                        new() { ["min"] = AttributeValue.Float(parameters[0]), ["max"] = AttributeValue.Float(parameters[1]) });
                    return;
                case "":
                    Emit(OpTypes.Identity, [x], node.Outputs[0]);
                    return;
                default:
                    throw Refuse($"activation '{activation}' is not supported (Relu, LeakyRelu, Tanh, Sigmoid, HardSigmoid, Clip)");
            }
        }

        // LayerNormalization(input + skip (+ bias), gamma, beta) over the last axis; the sum is output 3 when asked for.
        public void SkipLayerNormalization()
        {
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
