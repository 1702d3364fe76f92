// Where a transformer's parameters are: embeddings (tables read by Gather), attention and feed-forward projections,
// and the rest (norms, biases, pooler). Exporters often name weights by number, so the parts are told apart by shape:
// the hidden size d is the embedding width, a d × d (or d × 3d fused QKV) projection is attention, a d × f
// projection with any other f is feed-forward. A model without embedding tables is not a transformer here.
using Condense.Graph;

namespace Condense.Reports;

/// <summary>Parameter counts of a transformer by part.</summary>
/// <param name="HiddenSize">The embedding width d.</param>
/// <param name="Embeddings">Parameters of the embedding tables.</param>
/// <param name="Attention">Parameters of attention projections (weights and their biases).</param>
/// <param name="FeedForward">Parameters of feed-forward projections (weights and their biases).</param>
/// <param name="Other">Everything else (normalisation, pooler, …).</param>
public sealed record TransformerParts(int HiddenSize, long Embeddings, long Attention, long FeedForward, long Other)
{
    /// <summary>The parts of <paramref name="model"/>, or null when it has no embedding table (a Gather from a 2-D initializer).</summary>
    public static TransformerParts? Of(GraphModule model)
    {
        var graph = model.Graph;
        var tables = graph.Nodes.Where(n => n.OpType == OpTypes.Gather && graph.Initializers.TryGetValue(n.Inputs[0], out var t) && t.Rank == 2)
            .Select(n => n.Inputs[0]).Distinct().ToList();
        if (tables.Count == 0) return null;
        int d = tables.Select(t => graph.Initializers[t].Shape[1]).GroupBy(w => w).OrderByDescending(g => g.Count()).First().Key;
        long embeddings = tables.Sum(t => (long)graph.Initializers[t].Size), attention = 0, feedForward = 0;
        var counted = new HashSet<string>(tables);
        foreach (var node in graph.Nodes.Where(n => n.OpType is OpTypes.MatMul or OpTypes.Gemm))
        {
            if (node.Inputs.Count < 2 || !graph.Initializers.TryGetValue(node.Inputs[1], out var w) || w.Rank != 2 || !counted.Add(node.Inputs[1])) continue;
            int a = w.Shape[0], b = w.Shape[1];
            if (a != d && b != d) continue;
            int other = a == d ? b : a;
            long size = w.Size + BiasOf(graph, node, counted);
            if (other == d || other == 3 * d) attention += size; else feedForward += size;
        }
        long total = graph.Initializers.Where(i => graph.Trainable.Contains(i.Key) || counted.Contains(i.Key)).Sum(i => (long)i.Value.Size);
        return new TransformerParts(d, embeddings, attention, feedForward, Math.Max(0, total - embeddings - attention - feedForward));
    }

    // The bias a linear layer adds: Gemm's third input, or the initializer of the Add that reads a MatMul's output.
    private static long BiasOf(ModelGraph graph, Node node, HashSet<string> counted)
    {
        string? bias = node.OpType == OpTypes.Gemm ? node.Inputs.ElementAtOrDefault(2)
            : graph.Consumers(node.Outputs[0]).FirstOrDefault(c => c.OpType == OpTypes.Add)?.Inputs.FirstOrDefault(graph.Initializers.ContainsKey);
        return bias is not null && graph.Initializers.TryGetValue(bias, out var b) && counted.Add(bias) ? b.Size : 0;
    }
}
