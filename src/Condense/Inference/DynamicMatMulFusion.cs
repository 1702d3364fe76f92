// Dynamic int8 graphs onto the integer GEMM: each MatMul that reads DequantizeLinear(DynamicQuantizeLinear(x)) and a
// DequantizeLinear of constant int8 (or int4) weights with zero point 0 (per-tensor or per-column scales) becomes one
// DynamicQuantizeMatMul node (ONNX Runtime's com.microsoft fused op, GraphOps.Math.DynamicQuantized.cs), the form ORT
// runs quantize_dynamic models in; everything else runs as before. This is what `quantize --dynamic` writes for
// transformers (Quantizer.cs), so their Q/K/V, output and feed-forward projections run in integers.
using Condense.Graph;

namespace Condense.Inference;

/// <summary>Fuses the dynamic QDQ MatMuls of a graph.</summary>
internal static class DynamicMatMulFusion
{
    /// <summary>
    /// A copy of <paramref name="graph"/> (sharing its initializer tensors) with every dynamic QDQ MatMul fused and the
    /// quantize/dequantize nodes nothing else reads removed; null when no MatMul fuses.
    /// </summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var replacements = new Dictionary<Node, Node>();
        foreach (var node in graph.Nodes)
            if (node.OpType == OpTypes.MatMul && Fused(graph, node) is { } fused) replacements[node] = fused;
        if (replacements.Count == 0) return null;
        var result = new ModelGraph { Opset = graph.Opset };
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        foreach (var n in graph.Nodes)
            result.Nodes.Add(replacements.TryGetValue(n, out var r) ? r : new Node(n.Name, n.OpType, n.Inputs, n.Outputs, n.Attributes));
        foreach (var (name, t) in graph.Initializers) result.Initializers.Add(name, t);
        foreach (var name in graph.Trainable) result.Trainable.Add(name);
        foreach (var (name, type) in graph.ElementTypes) result.ElementTypes[name] = type;
        foreach (var (key, value) in graph.Metadata) result.Metadata[key] = value;
        result.RemoveUnused();
        return result;
    }

    // DynamicQuantizeMatMul(x, W_q, s_w[, 0]) for MatMul(DQ(DynamicQuantizeLinear(x)), DQ(W_q, s_w[, 0])), or null.
    private static Node? Fused(ModelGraph g, Node matMul)
    {
        if (matMul.Inputs.Count != 2) return null;
        if (g.Producer(matMul.Inputs[0]) is not { OpType: OpTypes.DequantizeLinear } inputDq || inputDq.Inputs.Count < 3) return null;
        if (g.Producer(inputDq.Inputs[0]) is not { OpType: OpTypes.DynamicQuantizeLinear } dynamic
            || !inputDq.Inputs.SequenceEqual(dynamic.Outputs)) return null;
        if (g.Producer(matMul.Inputs[1]) is not { OpType: OpTypes.DequantizeLinear } weightDq || weightDq.Int("block_size", 0) != 0) return null;
        string codes = weightDq.Inputs[0];
        if (!g.Initializers.TryGetValue(codes, out var w) || w.Rank != 2 || g.TypeOf(codes) is not (ElementType.Int8 or ElementType.Int4))
            return null;
        if (weightDq.Inputs.Count < 2 || !g.Initializers.TryGetValue(weightDq.Inputs[1], out var scale)) return null;
        long axis = weightDq.Int("axis", 1);
        bool perColumn = scale.Size == w.Shape[1] && scale.Rank == 1 && (axis == 1 || axis == -1);
        if (scale.Size != 1 && !perColumn || scale.Data.Any(s => !(s > 0f) || float.IsInfinity(s))) return null;
        var inputs = new List<string> { dynamic.Inputs[0], codes, weightDq.Inputs[1] };
        if (weightDq.Inputs.Count > 2 && weightDq.Inputs[2].Length > 0)
        {
            if (!g.Initializers.TryGetValue(weightDq.Inputs[2], out var zero) || zero.Data.Any(z => z != 0f)) return null;
            inputs.Add(weightDq.Inputs[2]);
        }
        return new Node(matMul.Name, OpTypes.DynamicQuantizeMatMul, inputs, matMul.Outputs);
    }
}
