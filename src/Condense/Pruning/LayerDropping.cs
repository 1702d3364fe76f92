// A shallower student from a transformer teacher by keeping some of its layers with their weights, as DistilBERT
// (Sanh et al. 2019, §3: "initialize the student from the teacher by taking one layer out of two") and the
// layer-dropping studies (Sajjad et al. 2023) do. Each kept layer reads the output of the previous kept layer (or the
// embeddings), whatever read the last layer's output reads the last kept layer's, and the dropped layers' nodes and
// weights leave the graph. Kept layers keep their node, value and weight names, so a student's hidden states and
// attention maps line up with the teacher's by name (the mapping the hidden and attention distillation losses use).
using Condense.Graph;

namespace Condense.Pruning;

/// <summary>Removes whole layers of transformer graphs.</summary>
public static class LayerDropping
{
    /// <summary>
    /// A copy of <paramref name="model"/> with only the layers <paramref name="keep"/> (indices into
    /// <paramref name="layers"/>, as <see cref="EncoderLayers.Find"/> returns them for this model), in order.
    /// </summary>
    public static GraphModule KeepLayers(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyList<int> keep)
    {
        if (layers.Count == 0) throw new CondenseException("the model has no attention layers to choose from");
        if (keep.Count == 0) throw new CondenseException("keep at least one layer");
        foreach (int k in keep)
            if (k < 0 || k >= layers.Count) throw new CondenseException($"layer {k} does not exist: the model has layers 0–{layers.Count - 1}");
        for (int i = 1; i < keep.Count; i++)
            if (keep[i] <= keep[i - 1]) throw new CondenseException($"list the layers to keep once each, in increasing order, got {string.Join(",", keep)}");

        var graph = model.Graph.Clone();
        var byName = graph.Nodes.ToDictionary(n => n.Name);
        string current = layers[0].Input;
        foreach (int k in keep)
        {
            var layer = layers[k];
            foreach (var name in layer.Nodes) Rewire(byName[name], layer.Input, current);
            current = layer.Output;
        }
        var last = layers[^1];
        if (current != last.Output)
        {
            foreach (var node in graph.Nodes.Where(n => !last.Nodes.Contains(n.Name))) Rewire(node, last.Output, current);
            // A graph output keeps its name: the dropped producer writes a dead value, an Identity the new one.
            if (graph.Outputs.Any(o => o.Name == last.Output))
            {
                var producer = graph.Nodes.First(n => n.Outputs.Contains(last.Output));
                producer.Outputs[producer.Outputs.IndexOf(last.Output)] = last.Output + "/dropped";
                graph.Nodes.Add(new Node(last.Output + "/kept", OpTypes.Identity, [current], [last.Output]));
            }
        }
        graph.RemoveUnused();
        graph.Validate();
        return new GraphModule(graph);
    }

    /// <summary>
    /// Layers to keep for a student of <paramref name="depth"/> layers out of <paramref name="total"/>: the first and the last,
    /// the rest spread evenly between them (6 → 3 keeps 0, 3, 5; a depth of 1 keeps the last). The last layer shapes the space
    /// the embeddings live in: on all-MiniLM-L6-v2 before any distillation, layers 0, 3, 5 keep cosine 0.67 to the
    /// teacher's embeddings and 0, 4, 5 keep 0.71, where DistilBERT's every-other-layer 0, 2, 4 keeps 0.44. After distillation
    /// (2,000 corpus passages × 2 epochs, hidden weight 1; fortunes cosine): 0, 3, 5 0.830, 1, 3, 5 0.831, 0, 2, 5 0.823, 0, 2, 4 0.699.
    /// </summary>
    public static int[] EvenlySpaced(int total, int depth)
    {
        if (depth < 1 || depth > total) throw new CondenseException($"a student depth must be 1–{total}, got {depth}");
        if (depth == 1) return [total - 1];
        return [.. Enumerable.Range(0, depth).Select(i => (int)Math.Round((double)i * (total - 1) / (depth - 1), MidpointRounding.AwayFromZero))];
    }

    private static void Rewire(Node node, string from, string to)
    {
        for (int i = 0; i < node.Inputs.Count; i++)
            if (node.Inputs[i] == from) node.Inputs[i] = to;
    }
}
