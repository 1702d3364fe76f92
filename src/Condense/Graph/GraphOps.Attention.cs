// The engine's fused transformer ops, made by Inference/AttentionFusion from the nodes a BERT-style export writes:
// FusedAttention — softmax(scale·Q·Kᵀ + bias)·V per head, on Q, K and V in the head-split layout
// [batch, length, heads, width] the projections are reshaped to, the result in the same layout (the Transposes around
// the heads, the scale, the mask Add and the Softmax of the export are its parts; Kernels/Transformer/AttentionHeads) —
// and SkipLayerNormalization — LayerNormalization(x + skip) (ONNX Runtime's com.microsoft op of that name, its first
// four inputs: the residual Add and the norm after it in one pass over the rows; Kernels/Transformer/LayerNormRows).
// The batch and head dimensions broadcast as MatMul's do, the bias as Add's does onto [batch, heads, Lq, Lk].
using Condense.Autograd;
using Condense.Kernels.Transformer;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    /// <summary>
    /// FusedAttention(Q [B, Lq, H, d], K [B, Lk, H, d], V [B, Lk, H, dv], bias?) with attribute scale → Y [B, Lq, H, dv]:
    /// Y[b, :, h, :] = softmax(scale·Q[b, :, h, :]·K[b, :, h, :]ᵀ + bias[b, h])·V[b, :, h, :]. Inference only.
    /// </summary>
    internal static Tensor FusedAttention(Node node, Tensor?[] inputs)
    {
        var q = Required(node, inputs, 0);
        var k = Required(node, inputs, 1);
        var v = Required(node, inputs, 2);
        var bias = Optional(inputs, 3);
        string where = $"node '{node.Name}' ({node.OpType})";
        if (GradMode.Enabled && new[] { q, k, v, bias }.Any(t => t is { RequiresGrad: true }))
            throw new CondenseException($"{where} runs inference only; train the graph it was fused from");
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4 || q.Shape[3] != k.Shape[3] || k.Shape[1] != v.Shape[1])
            throw new CondenseException($"{where}: Q {Shape.Format(q.Shape)}, K {Shape.Format(k.Shape)} and V {Shape.Format(v.Shape)} "
                + "are not [batch, length, heads, width] with K's width Q's and V's length K's");
        if (bias is { Rank: > 4 }) throw new CondenseException($"{where}: a bias of rank {bias.Rank} (at most 4)");
        int batch = Broadcast(where, [q.Shape[0], k.Shape[0], v.Shape[0], BiasDim(bias, 0)]);
        int heads = Broadcast(where, [q.Shape[2], k.Shape[2], v.Shape[2], BiasDim(bias, 1)]);
        var shape = new AttentionShape(batch, heads, q.Shape[1], k.Shape[1], q.Shape[3], v.Shape[3]);
        var scores = new[] { batch, heads, shape.QueryLength, shape.KeyLength };
        if (bias is not null && !Tensors.Shape.Equal(Tensors.Shape.Broadcast(bias.Shape, scores), scores))
            throw new CondenseException($"{where}: a bias of shape {Shape.Format(bias.Shape)} does not broadcast to {Shape.Format(scores)}");
        var y = Tensor.Uninitialized([batch, shape.QueryLength, heads, shape.ValueWidth]);
        AttentionHeads.Forward(shape, node.Float("scale", 1f), q.Data, HeadStrides(q), k.Data, HeadStrides(k), v.Data, HeadStrides(v),
            bias?.Data, bias is null ? default : BiasStrides(bias), y.Data);
        return y;
    }

    /// <summary>
    /// SkipLayerNormalization(x, skip, γ, β?) with attribute epsilon: LayerNormalization over the last axis of x + skip; one
    /// pass over the rows at inference when skip has x's shape and γ, β one value per feature, else the Add and the norm.
    /// </summary>
    internal static Tensor SkipLayerNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var skip = Required(node, inputs, 1);
        var scale = Required(node, inputs, 2);
        var bias = Optional(inputs, 3);
        float epsilon = node.Float("epsilon", 1e-5f);
        int width = x.Rank == 0 ? 0 : x.Shape[^1];
        bool fused = x.DataType == DataType.Float32 && skip.DataType == DataType.Float32 && Tensors.Shape.Equal(x.Shape, skip.Shape) && width > 0
            && scale.Rank == 1 && scale.Size == width && (bias is null || bias.Rank == 1 && bias.Size == width)
            && !(GradMode.Enabled && new[] { x, skip, scale, bias }.Any(t => t is { RequiresGrad: true }));
        if (!fused)
        {
            var norm = new Node(node.Name, OpTypes.LayerNormalization, node.Inputs, node.Outputs,
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(-1), ["epsilon"] = AttributeValue.Float(epsilon) });
            return LayerNormalization(norm, [Arithmetic(node, [x, skip], (a, b) => a.Add(b), TypedOps.Add), scale, bias])[0];
        }
        var y = Tensor.Uninitialized(x.Shape);
        LayerNormRows.Forward(x.Data, y.Data, x.Size / width, scale.Data, bias?.Data, epsilon, skip.Data);
        return y;
    }

    private static int BiasDim(Tensor? bias, int axis) => bias is null ? 1 : axis - (4 - bias.Rank) is int i and >= 0 ? bias.Shape[i] : 1;

    // The size a dimension broadcasts to: every operand's is 1 or the same.
    private static int Broadcast(string where, int[] sizes)
    {
        int size = sizes.FirstOrDefault(s => s != 1, 1);
        if (sizes.Any(s => s != 1 && s != size)) throw new CondenseException($"{where}: sizes {string.Join(", ", sizes)} do not broadcast");
        return size;
    }

    // Strides of an operand [B, L, H, width] indexed (batch, head, row): 0 along a dimension of size 1 (broadcast).
    private static AttentionStrides HeadStrides(Tensor t)
    {
        long row = (long)t.Shape[2] * t.Shape[3];
        return new AttentionStrides(t.Shape[0] == 1 ? 0 : row * t.Shape[1], t.Shape[2] == 1 ? 0 : t.Shape[3], row, 1);
    }

    // Strides of a bias of rank ≤ 4 aligned right onto [batch, heads, Lq, Lk]: 0 along a missing or size-1 dimension.
    private static AttentionStrides BiasStrides(Tensor bias)
    {
        var strides = new long[4];
        long stride = 1;
        for (int axis = 3; axis >= 0; axis--)
        {
            int i = axis - (4 - bias.Rank);
            if (i < 0) continue;
            strides[axis] = bias.Shape[i] == 1 ? 0 : stride;
            stride *= bias.Shape[i];
        }
        return new AttentionStrides(strides[0], strides[1], strides[2], strides[3]);
    }
}
