// Structured pruning with physical removal (Li et al. 2017, "Pruning Filters for Efficient ConvNets",
// applied to neurons): rank each layer's output neurons by the L1 or L2 norm of their weights, remove
// the weakest rows — with their biases — and the matching input columns of the next layer. The result
// is a smaller dense model, not a dense model full of zeros. A layer qualifies when its output reaches
// exactly one next linear layer through ops that keep zero at zero (ReLU, tanh, dropout), so removing
// a neuron is the same as zeroing it.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>How one layer shrank.</summary>
public sealed record LayerChange(string Weight, int[] OldShape, int[] NewShape, string NextWeight, int[] NextOldShape, int[] NextNewShape, int NeuronsRemoved);

/// <summary>The smaller model and what changed.</summary>
public sealed record StructuredResult(GraphModule Model, IReadOnlyList<LayerChange> Changes, IReadOnlyList<string> Skipped);

/// <summary>Removes whole neurons from linear layers.</summary>
public static class StructuredPruning
{
    private static readonly HashSet<string> ZeroPreserving = ["Relu", "LeakyRelu", "Tanh", "Dropout", "Identity"];

    /// <summary>
    /// Removes round(<paramref name="ratio"/> · n) neurons of every qualifying layer (at least one neuron
    /// stays). The input model is not changed; the result shares no tensors with it.
    /// </summary>
    public static StructuredResult RemoveNeurons(GraphModule model, double ratio, NeuronNorm norm = NeuronNorm.L2,
        IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null)
    {
        if (!(ratio >= 0 && ratio < 1)) throw new CondenseException($"structured pruning ratio must be in [0, 1), got {ratio}");
        var graph = model.Graph.Clone();
        var chosen = Prunable.Find(new GraphModule(graph), new PruneOptions { Include = include ?? [], Exclude = exclude ?? [] })
            .Select(t => t.Name).ToHashSet();
        var changes = new List<LayerChange>();
        var skipped = new List<string>();
        foreach (var node in graph.Nodes.Where(n => n.OpType is "Gemm" or "MatMul").ToList())
        {
            string weightName = node.Inputs[1];
            if (!chosen.Contains(weightName)) continue;
            var next = NextLinear(graph, node, out string? reason);
            if (next is null) { skipped.Add($"{weightName}: {reason}"); continue; }
            var w = graph.Initializers[weightName];
            int outAxis = OutputAxis(node);
            int outputs = w.Shape[outAxis];
            int remove = (int)Math.Min(outputs - 1, Math.Round(ratio * outputs, MidpointRounding.AwayFromZero));
            if (remove <= 0) { skipped.Add($"{weightName}: nothing to remove at ratio {ratio}"); continue; }
            var keep = Strongest(w, outAxis, outputs - remove, norm);

            string nextName = next.Inputs[1];
            var nextW = graph.Initializers[nextName];
            int nextInAxis = 1 - OutputAxis(next);
            graph.Initializers[weightName] = Select(w, outAxis, keep);
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0 && graph.Initializers.TryGetValue(node.Inputs[2], out var bias) && bias.Size == outputs)
                graph.Initializers[node.Inputs[2]] = Select(bias.Reshape(outputs), 0, keep);
            graph.Initializers[nextName] = Select(nextW, nextInAxis, keep);
            changes.Add(new LayerChange(weightName, w.Shape, graph.Initializers[weightName].Shape, nextName, nextW.Shape, graph.Initializers[nextName].Shape, remove));
        }
        return new StructuredResult(new GraphModule(graph), changes, skipped);
    }

    private static int OutputAxis(Node node) => node.OpType == "Gemm" && node.Int("transB", 0) != 0 ? 0 : 1;

    // Follows the layer's output through zero-preserving ops to the single linear layer that reads it.
    private static Node? NextLinear(ModelGraph graph, Node node, out string? reason)
    {
        string value = node.Outputs[0];
        while (true)
        {
            if (graph.Outputs.Any(o => o.Name == value)) { reason = "its output is a model output"; return null; }
            var consumers = graph.Consumers(value).ToList();
            if (consumers.Count != 1) { reason = $"its output feeds {consumers.Count} ops"; return null; }
            var c = consumers[0];
            if (ZeroPreserving.Contains(c.OpType)) { value = c.Outputs[0]; continue; }
            if (c.OpType is "Gemm" or "MatMul" && c.Inputs[0] == value && graph.Initializers.ContainsKey(c.Inputs[1])
                && c.Int("transA", 0) == 0)
            {
                reason = null;
                return c;
            }
            reason = $"its output goes through {c.OpType}, which does not keep removed neurons at zero";
            return null;
        }
    }

    // Indices (ascending) of the `count` neurons with the largest weight norms.
    private static int[] Strongest(Tensor w, int outAxis, int count, NeuronNorm norm)
    {
        int outputs = w.Shape[outAxis], inputs = w.Size / outputs;
        var score = new double[outputs];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
            {
                float v = outAxis == 0 ? w.Data[o * inputs + i] : w.Data[i * outputs + o];
                score[o] += norm == NeuronNorm.L1 ? Math.Abs(v) : (double)v * v;
            }
        return Enumerable.Range(0, outputs).OrderByDescending(o => score[o]).ThenBy(o => o).Take(count).Order().ToArray();
    }

    // The rows (axis 0) or columns (axis 1) of a 2-D tensor, or entries of a 1-D one, listed in `keep`.
    private static Tensor Select(Tensor t, int axis, int[] keep)
    {
        if (t.Rank == 1) return new Tensor(keep.Select(i => t.Data[i]).ToArray(), keep.Length);
        int rows = t.Shape[0], cols = t.Shape[1];
        if (axis == 0)
        {
            var data = new float[keep.Length * cols];
            for (int r = 0; r < keep.Length; r++) t.Data.AsSpan(keep[r] * cols, cols).CopyTo(data.AsSpan(r * cols, cols));
            return new Tensor(data, keep.Length, cols);
        }
        var result = new float[rows * keep.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < keep.Length; c++) result[r * keep.Length + c] = t.Data[r * cols + keep[c]];
        return new Tensor(result, rows, keep.Length);
    }
}
