// Float graphs onto fused ops, as ONNX Runtime's graph optimizer does at load: PyTorch's ONNX export writes LayerNorm as
// ReduceMean/Sub/Pow(2)/ReduceMean/Add(ε)/Sqrt/Div/Mul(γ)/Add(β), GELU as Div(√2)/Erf/Add(1)/Mul(x)/Mul(½) (GPT-2's
// tanh form as nine nodes), SiLU as Mul(x, Sigmoid(x)) and (before opset 14) hard-swish as Mul(x, HardSigmoid(x)), each
// node a pass over the activations; here each chain becomes one LayerNormalization (ONNX opset 17, its epsilon read from
// the graph), one Gelu (opset 20, exact or tanh), one Swish (opset 24, α 1) or one HardSwish (opset 14), which run on
// one-pass kernels at inference (Kernels/Transformer/LayerNormRows, GeluKernel, Kernels/Elementwise/SigmoidKernel,
// HardSigmoidKernel), and a Linear layer's MatMul + bias Add becomes one Gemm that starts
// its sums from the bias (no separate pass, no second activation buffer). Only the exact chains fuse — last-axis means,
// exponent 2, √2 (or 1/√2 as a product), 1 and ½, per-feature γ and β, no intermediate read elsewhere — anything else
// stays as it is; a Dropout's unread mask output is dropped; a BatchNormalization and the Relu after it (not after a Conv,
// whose chain takes both) run as one pass. Then zero Pads fold into the Conv or AveragePool after them
// (PadFusion), each Gemm and the ReLU or GELU after it fuse (GemmActivationFusion), and the attention blocks
// and residual norms (AttentionFusion). The result is a copy for inference that shares the initializer tensors; the
// caller's graph is never changed.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Fuses the LayerNorm, GELU and SiLU decompositions of a float graph.</summary>
internal static class FloatGraphFusion
{
    private const float SqrtTwo = 1.41421356f;

    /// <summary>
    /// A copy of <paramref name="graph"/> (sharing its initializer tensors) with every exact LayerNorm, GELU and SiLU chain
    /// replaced by one node, then its zero Pads folded into the Conv or AveragePool after them (PadFusion), its Gemm +
    /// activation pairs (GemmActivationFusion), attention blocks and residual norms (AttentionFusion) fused, and the nodes
    /// only they read removed; null when nothing fuses.
    /// </summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var matcher = new Matcher(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        foreach (var node in graph.Nodes)
        {
            var fused = matcher.LayerNorm(node) ?? matcher.Gelu(node) ?? matcher.TanhGelu(node) ?? matcher.Silu(node) ?? matcher.HardSwish(node)
                ?? matcher.MatMulBias(node) ?? matcher.UnreadMask(node) ?? matcher.NormRelu(node);
            if (fused is not null) replacements[node] = fused;
        }
        var result = replacements.Count == 0 ? null : GraphPattern.Rewrite(graph, replacements, matcher.Shapes);
        result = PadFusion.Fuse(result ?? graph) ?? result;
        result = GemmActivationFusion.Fuse(result ?? graph) ?? result;
        return AttentionFusion.Fuse(result ?? graph) ?? result;
    }

    private sealed class Matcher(ModelGraph graph) : GraphPattern(graph)
    {
        // LayerNormalization(x, γ, β, axis −1, ε) for Add(Mul(Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), ε))), γ), β)
        // with d = Sub(x, ReduceMean(x)), the means over the last axis; the operands of Add and Mul in either order.
        public Node[]? LayerNorm(Node add)
        {
            if (add.OpType != OpTypes.Add || !Split(add, out var normed, out var beta) || !IsVector(beta)) return null;
            if (OnlyFeeds(normed, OpTypes.Mul) is not { } mul || !Split(mul, out var divided, out var gamma) || !IsVector(gamma)) return null;
            if (OnlyFeeds(divided, OpTypes.Div) is not { } div) return null;
            if (OnlyFeeds(div.Inputs[1], OpTypes.Sqrt) is not { } sqrt || OnlyFeeds(sqrt.Inputs[0], OpTypes.Add) is not { } addEpsilon) return null;
            if (!Split(addEpsilon, out var variance, out var epsilonName) || Scalar(epsilonName) is not { } epsilon || !(epsilon >= 0)) return null;
            if (OnlyFeeds(variance, OpTypes.ReduceMean) is not { } meanOfSquares || !LastAxisMean(meanOfSquares)) return null;
            if (OnlyFeeds(meanOfSquares.Inputs[0], OpTypes.Pow) is not { } pow || Scalar(pow.Inputs[1]) != 2f) return null;
            string centered = div.Inputs[0];
            if (pow.Inputs[0] != centered || Producer(centered, OpTypes.Sub) is not { } sub || Readers(centered) != 2) return null;
            string x = sub.Inputs[0];
            if (OnlyFeeds(sub.Inputs[1], OpTypes.ReduceMean) is not { } mean || mean.Inputs[0] != x || !LastAxisMean(mean)) return null;
            return [new Node(add.Name, OpTypes.LayerNormalization, [x, gamma, beta], add.Outputs,
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(-1), ["epsilon"] = AttributeValue.Float(epsilon) })];
        }

        // Gelu(x) for Mul(Mul(x, A), ½) or Mul(Mul(x, ½), A) with A = Add(Erf(Div(x, √2) or Mul(x, 1/√2)), 1).
        public Node[]? Gelu(Node last)
        {
            if (last.OpType != OpTypes.Mul || last.Inputs.Count != 2) return null;
            string? x = null;
            if (Split(last, out var product, out var half) && Scalar(half) == 0.5f && OnlyFeeds(product, OpTypes.Mul) is { Inputs.Count: 2 } mulX)
                x = mulX.Inputs.FirstOrDefault(input => ErfOnePlus(mulX.Inputs[0] == input ? mulX.Inputs[1] : mulX.Inputs[0], input));
            else
                foreach (var (a, b) in new[] { (last.Inputs[0], last.Inputs[1]), (last.Inputs[1], last.Inputs[0]) })
                    if (OnlyFeeds(a, OpTypes.Mul) is { } halfX && Split(halfX, out var input, out var h) && Scalar(h) == 0.5f && ErfOnePlus(b, input))
                        x = input;
            return x is null ? null : [new Node(last.Name, OpTypes.Gelu, [x], last.Outputs)];
        }

        // Gelu(x, approximate "tanh") for Mul(Mul(x, ½), Add(Tanh(Mul(Add(x, Mul(Pow(x, 3), 0.044715)), √(2/π))), 1)) —
        // Hugging Face's gelu_new (GPT-2) as PyTorch exports it — every product's and sum's operands in either order.
        public Node[]? TanhGelu(Node last)
        {
            if (last.OpType != OpTypes.Mul || last.Inputs.Count != 2) return null;
            foreach (var (halved, gate) in new[] { (last.Inputs[0], last.Inputs[1]), (last.Inputs[1], last.Inputs[0]) })
            {
                if (OnlyFeeds(halved, OpTypes.Mul) is not { } halfX || !Split(halfX, out var x, out var half) || Scalar(half) != 0.5f) continue;
                if (OnlyFeeds(gate, OpTypes.Add) is not { } addOne || !Split(addOne, out var tanhValue, out var one) || Scalar(one) != 1f) continue;
                if (OnlyFeeds(tanhValue, OpTypes.Tanh) is not { } tanh || OnlyFeeds(tanh.Inputs[0], OpTypes.Mul) is not { } scaled) continue;
                if (!Split(scaled, out var inner, out var root) || !Near(Scalar(root), 0.7978845608f)) continue;
                if (OnlyFeeds(inner, OpTypes.Add) is not { Inputs.Count: 2 } sum || !sum.Inputs.Contains(x)) continue;
                string cubic = sum.Inputs[0] == x ? sum.Inputs[1] : sum.Inputs[0];
                if (OnlyFeeds(cubic, OpTypes.Mul) is not { } weighted || !Split(weighted, out var cube, out var c) || !Near(Scalar(c), 0.044715f)) continue;
                if (OnlyFeeds(cube, OpTypes.Pow) is not { } pow || pow.Inputs[0] != x || Scalar(pow.Inputs[1]) != 3f) continue;
                return [new Node(last.Name, OpTypes.Gelu, [x], last.Outputs,
                    new Dictionary<string, AttributeValue> { ["approximate"] = AttributeValue.String("tanh") })];
            }
            return null;
        }

        private static bool Near(float? value, float expected) => value is float v && Math.Abs(v - expected) <= 1e-6f;

        // Swish(x) (SiLU: α 1, one pass on SigmoidKernel) for Mul(x, Sigmoid(x)), the operands in either order, the Sigmoid's
        // output read by this Mul only: EfficientNet's and YOLO's activations.
        public Node[]? Silu(Node mul)
        {
            if (mul.OpType != OpTypes.Mul || mul.Inputs.Count != 2) return null;
            foreach (var (x, gate) in new[] { (mul.Inputs[0], mul.Inputs[1]), (mul.Inputs[1], mul.Inputs[0]) })
                if (OnlyFeeds(gate, OpTypes.Sigmoid) is { } sigmoid && sigmoid.Inputs[0] == x)
                    return [new Node(mul.Name, OpTypes.Swish, [x], mul.Outputs)];
            return null;
        }

        // HardSwish(x) (one pass on HardSigmoidKernel) for Mul(x, HardSigmoid(x)) with α the float 1/6 and β ½ — hard-swish as
        // PyTorch exports it before opset 14 (MobileNetV3) — the operands in either order, the gate read by this Mul only.
        // HardSwish's float inference is that same product of x and that gate, so the bits do not change.
        public Node[]? HardSwish(Node mul)
        {
            if (mul.OpType != OpTypes.Mul || mul.Inputs.Count != 2) return null;
            foreach (var (x, gate) in new[] { (mul.Inputs[0], mul.Inputs[1]), (mul.Inputs[1], mul.Inputs[0]) })
                if (OnlyFeeds(gate, OpTypes.HardSigmoid) is { } hard && hard.Inputs[0] == x && hard.Float("alpha", 0.2f) == 1f / 6
                    && hard.Float("beta", 0.5f) == 0.5f)
                    return [new Node(mul.Name, OpTypes.HardSwish, [x], mul.Outputs)];
            return null;
        }

        // Add(MatMul(x, W), b) with W [K, N] and b [N] constants: one Gemm whose bias is the GEMM's starting sum, on x
        // flattened to [rows, K] and the result shaped back to x's leading dimensions and N:
        // Reshape(x, [−1, K]) → Gemm(·, W, b) → Reshape(·, Concat(Shape(x, end −1), [N])).
        public Node[]? MatMulBias(Node add)
        {
            if (add.OpType != OpTypes.Add || !Split(add, out var product, out var bias) || !IsVector(bias)) return null;
            if (OnlyFeeds(product, OpTypes.MatMul) is not { Inputs.Count: 2 } matMul || !Split(matMul, out var x, out var weight)) return null;
            if (matMul.Inputs[1] != weight || !Graph.Initializers.TryGetValue(weight, out var w) || w.Rank != 2 || w.DataType != DataType.Float32
                || Graph.TypeOf(weight) != ElementType.Float32 || Graph.Initializers[bias].Size != w.Shape[1]) return null;
            string prefix = matMul.Name + "/bias_fused", rows = prefix + "/rows_shape", columns = prefix + "/columns";
            Shapes[rows] = Tensor.FromInt64s([-1, w.Shape[0]], DataType.Int64, 2);
            Shapes[columns] = Tensor.FromInt64s([w.Shape[1]], DataType.Int64, 1);
            return
            [
                new Node(prefix + "/Reshape", OpTypes.Reshape, [x, rows], [prefix + "/rows"]),
                new Node(prefix + "/Gemm", OpTypes.Gemm, [prefix + "/rows", weight, bias], [prefix + "/gemm"]),
                new Node(prefix + "/Shape", OpTypes.Shape, [x], [prefix + "/leading"],
                    new Dictionary<string, AttributeValue> { ["end"] = AttributeValue.Int(-1) }),
                new Node(prefix + "/Concat", OpTypes.Concat, [prefix + "/leading", columns], [prefix + "/shape"],
                    new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(0) }),
                new Node(add.Name, OpTypes.Reshape, [prefix + "/gemm", prefix + "/shape"], add.Outputs),
            ];
        }

        // BatchNormalizationRelu for Relu(BatchNormalization(x)) in inference form, the norm read by this Relu alone and not the
        // only reader of a Conv (whose chain folds it): DenseNet's and pre-activation ResNets' norms, one pass instead of two.
        public Node[]? NormRelu(Node relu)
        {
            if (relu.OpType != OpTypes.Relu || OnlyFeeds(relu.Inputs[0], OpTypes.BatchNormalization) is not { Inputs.Count: 5 } norm
                || norm.Int("training_mode", 0) != 0 || (Producer(norm.Inputs[0], OpTypes.Conv) is not null && Readers(norm.Inputs[0]) == 1)
                || norm.Inputs.Skip(1).Any(p => !IsVector(p))) return null;
            return [new Node(relu.Name, OpTypes.BatchNormalizationRelu, norm.Inputs, relu.Outputs,
                new Dictionary<string, AttributeValue> { ["epsilon"] = AttributeValue.Float(norm.Float("epsilon", 1e-5f)) })];
        }

        // A Dropout whose mask output nothing reads loses that output: outside training the op would fill a tensor of ones
        // the size of its input on every pass (torchvision's Swin exports one per attention map).
        public Node[]? UnreadMask(Node dropout)
        {
            if (dropout.OpType != OpTypes.Dropout || dropout.Outputs.Count < 2 || Readers(dropout.Outputs[1]) > 0 || IsGraphOutput(dropout.Outputs[1]))
                return null;
            return [new Node(dropout.Name, OpTypes.Dropout, dropout.Inputs, [dropout.Outputs[0]], dropout.Attributes)];
        }

        /// <summary>The shape constants the MatMul + bias rewrites read, by name.</summary>
        public Dictionary<string, Tensor> Shapes { get; } = [];

        // Whether `value` is Add(Erf(x/√2), 1), computed for one reader only.
        private bool ErfOnePlus(string value, string x)
        {
            if (OnlyFeeds(value, OpTypes.Add) is not { } addOne || !Split(addOne, out var erfValue, out var one) || Scalar(one) != 1f) return false;
            if (OnlyFeeds(erfValue, OpTypes.Erf) is not { } erf || Producer(erf.Inputs[0], null) is not { Inputs.Count: 2 } scaled) return false;
            if (Readers(erf.Inputs[0]) != 1 || IsGraphOutput(erf.Inputs[0]) || scaled.Inputs[0] != x || Scalar(scaled.Inputs[1]) is not { } c) return false;
            return scaled.OpType == OpTypes.Div && Math.Abs(c - SqrtTwo) <= 1e-6f || scaled.OpType == OpTypes.Mul && Math.Abs(c - 1f / SqrtTwo) <= 1e-6f;
        }

        // ReduceMean over the last axis only, dimensions kept (axes as attribute, or as a constant input from opset 18).
        private bool LastAxisMean(Node mean)
        {
            if (mean.Int("keepdims", 1) != 1) return false;
            if (mean.Attributes.TryGetValue("axes", out var axes)) return axes.IntsValue is [-1];
            if (mean.Inputs.Count < 2 || !Graph.Initializers.TryGetValue(mean.Inputs[1], out var t) || t.Size != 1) return false;
            return (t.DataType == DataType.Int64 ? t.Int64Data[0] : (long)t.Data[0]) == -1;
        }
    }
}
