// The attention block and the residual norms of a transformer graph onto fused ops, as ONNX Runtime's transformer
// optimizer does (its Attention and SkipLayerNormalization fusions). PyTorch exports BERT's self-attention, after the
// Q/K/V projections are reshaped to heads [batch, length, heads, width], as
//   Q' = Transpose(Q, 0 2 1 3), K' = Transpose(K, 0 2 3 1) (or 0 2 1 3 then 0 1 3 2), V' = Transpose(V, 0 2 1 3),
//   P = Softmax(Add(Div(MatMul(Q', K'), c) or Mul(·, c), mask), last axis), Y = Transpose(MatMul(P, V'), 0 2 1 3)
// (the scale and the mask each optional, the mask either operand of its Add): four copies of the activations and five
// passes over the [batch, heads, L, L] scores. That whole chain becomes one FusedAttention(Q, K, V, mask) with
// scale 1/c (or c), which reads the heads in place through strides (Kernels/Transformer/AttentionHeads). A
// LayerNormalization over the last axis of an Add — the residual connection before each norm of a post-norm encoder, and
// the embeddings' sum — becomes one SkipLayerNormalization(a, b, γ, β). Only exact chains fuse: those perms, a scalar
// constant scale, a last-axis Softmax, every intermediate read by the next node alone and no graph output; anything
// else stays as imported. The result is a copy that shares the initializer tensors.
using Condense.Graph;

namespace Condense.Inference;

/// <summary>Fuses the attention blocks and residual layer norms of a float graph.</summary>
internal static class AttentionFusion
{
    private static readonly long[] Heads = [0, 2, 1, 3], KeysTransposed = [0, 2, 3, 1], LastTwoSwapped = [0, 1, 3, 2];

    /// <summary>A copy of <paramref name="graph"/> with its attention chains and residual norms fused; null when nothing fuses.</summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var matcher = new Matcher(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        foreach (var node in graph.Nodes)
            if ((matcher.Attention(node) ?? matcher.SkipLayerNorm(node)) is { } fused) replacements[node] = [fused];
        return replacements.Count == 0 ? null : GraphPattern.Rewrite(graph, replacements);
    }

    private sealed class Matcher(ModelGraph graph) : GraphPattern(graph)
    {
        // FusedAttention(Q, K, V[, mask], scale) for the chain ending in the Transpose of MatMul(Softmax(…), V') back to heads last.
        public Node? Attention(Node output)
        {
            if (!IsTranspose(output, Heads) || OnlyFeeds(output.Inputs[0], OpTypes.MatMul) is not { Inputs.Count: 2 } context) return null;
            if (OnlyFeeds(context.Inputs[1], OpTypes.Transpose) is not { } valueHeads || !IsTranspose(valueHeads, Heads)) return null;
            if (OnlyFeeds(context.Inputs[0], OpTypes.Softmax) is not { } softmax || softmax.Int("axis", -1) is not (-1 or 3)) return null;
            string scores = softmax.Inputs[0];
            string? mask = null;
            if (OnlyFeeds(scores, OpTypes.Add) is { Inputs.Count: 2 } add)
            {
                int side = Array.FindIndex([add.Inputs[0], add.Inputs[1]], v => Product(v) is not null);
                if (side < 0 || add.Inputs[0] == add.Inputs[1]) return null;
                (scores, mask) = (add.Inputs[side], add.Inputs[1 - side]);
            }
            if (Product(scores) is not var (product, scale)) return null;
            if (OnlyFeeds(product.Inputs[0], OpTypes.Transpose) is not { } queryHeads || !IsTranspose(queryHeads, Heads)) return null;
            if (Keys(product.Inputs[1]) is not { } keys) return null;
            string[] inputs = mask is null ? [queryHeads.Inputs[0], keys, valueHeads.Inputs[0]] : [queryHeads.Inputs[0], keys, valueHeads.Inputs[0], mask];
            return new Node(output.Name, OpTypes.FusedAttention, inputs, output.Outputs,
                new Dictionary<string, AttributeValue> { ["scale"] = AttributeValue.Float(scale) });
        }

        // SkipLayerNormalization(a, b, γ, β, ε) for LayerNormalization(Add(a, b), γ, β) over the last axis.
        public Node? SkipLayerNorm(Node norm)
        {
            if (norm.OpType != OpTypes.LayerNormalization || norm.Int("axis", -1) != -1 || norm.Int("stash_type", 1) != 1) return null;
            if (norm.Outputs.Count != 1 || norm.Inputs.Count is < 2 or > 3 || OnlyFeeds(norm.Inputs[0], OpTypes.Add) is not { Inputs.Count: 2 } add)
                return null;
            return new Node(norm.Name, OpTypes.SkipLayerNormalization, [add.Inputs[0], add.Inputs[1], .. norm.Inputs.Skip(1)], norm.Outputs,
                new Dictionary<string, AttributeValue> { ["epsilon"] = AttributeValue.Float(norm.Float("epsilon", 1e-5f)) });
        }

        // The Q'·K' MatMul behind `scores` (read by one node only) and the scale applied to it: c of a Mul, 1/c of a Div, or 1.
        private (Node Product, float Scale)? Product(string scores)
        {
            if (OnlyFeeds(scores, OpTypes.MatMul) is { Inputs.Count: 2 } direct) return (direct, 1f);
            var scaled = OnlyFeeds(scores, OpTypes.Div) ?? OnlyFeeds(scores, OpTypes.Mul);
            if (scaled is null || !Split(scaled, out var raw, out var constant) || Scalar(constant) is not { } c || !float.IsFinite(c) || c == 0f) return null;
            if (scaled.OpType == OpTypes.Div && scaled.Inputs[1] != constant) return null;
            if (OnlyFeeds(raw, OpTypes.MatMul) is not { Inputs.Count: 2 } product) return null;
            return (product, scaled.OpType == OpTypes.Div ? 1f / c : c);
        }

        // K in heads layout when `transposed` is Transpose(K, 0 2 3 1), or Transpose(Transpose(K, 0 2 1 3), 0 1 3 2).
        private string? Keys(string transposed)
        {
            if (OnlyFeeds(transposed, OpTypes.Transpose) is not { } last) return null;
            if (IsTranspose(last, KeysTransposed)) return last.Inputs[0];
            if (!IsTranspose(last, LastTwoSwapped) || OnlyFeeds(last.Inputs[0], OpTypes.Transpose) is not { } first || !IsTranspose(first, Heads))
                return null;
            return first.Inputs[0];
        }

        private static bool IsTranspose(Node node, long[] perm) =>
            node.OpType == OpTypes.Transpose && node.Inputs.Count == 1 && node.Outputs.Count == 1
            && node.Attributes.TryGetValue("perm", out var p) && p.IntsValue is { } values && values.SequenceEqual(perm);
    }
}
